#include "config/dram_address_mapping.h"

#include <algorithm>

namespace attnsim {

int exact_log2(std::int64_t v) {
  if (v <= 0 || (v & (v - 1))) return -1;
  int b = 0;
  while ((std::int64_t(1) << b) < v) ++b;
  return b;
}

bool AddressMapping::parse(const std::string& mapping, const DramSpec& spec, std::string* error) {
  text_ = mapping;
  std::string order = mapping;
  xor_ = false;
  const std::string suffix = "-xor";
  if (order.size() > suffix.size() && order.compare(order.size() - suffix.size(), suffix.size(), suffix) == 0) {
    xor_ = true;
    order.resize(order.size() - suffix.size());
  }
  if (order.size() % 2 != 0 || order.empty()) {
    *error =
        "must be a sequence of the fields Ro, Bg, Ba, Ra, Co, Ch (most significant first), optionally followed by "
        "-xor";
    return false;
  }
  const char* names[kKinds] = {"Ro", "Bg", "Ba", "Ra", "Co", "Ch"};
  Kind seq[kKinds];
  int n = 0;
  bool seen[kKinds] = {};
  for (size_t i = 0; i < order.size(); i += 2) {
    std::string tok = order.substr(i, 2);
    int k = -1;
    for (int j = 0; j < kKinds; ++j)
      if (tok == names[j]) k = j;
    if (k < 0) {
      *error = "unknown field \"" + tok + "\" (fields: Ro, Bg, Ba, Ra, Co, Ch)";
      return false;
    }
    if (seen[k]) {
      *error = "field " + tok + " appears twice";
      return false;
    }
    seen[k] = true;
    seq[n++] = Kind(k);
  }
  for (Kind k : {Ro, Ba, Ra, Co, Ch})
    if (!seen[k]) {
      *error = std::string("field ") + names[k] + " is missing (Ro, Ba, Ra, Co and Ch are required; Bg is optional)";
      return false;
    }
  separate_bg_ = seen[Bg];
  const int ch = exact_log2(spec.channels), ra = exact_log2(spec.ranks), bg = exact_log2(spec.bank_groups),
            ba = exact_log2(spec.banks_per_group), co = exact_log2(spec.bursts_per_row()),
            off = exact_log2(spec.burst_bytes());
  if (ch < 0 || ra < 0 || bg < 0 || ba < 0 || co < 0 || off < 0 || exact_log2(spec.rows) < 0) {
    *error = "needs power-of-two channels, ranks, bank groups, banks, rows, bursts per row and burst bytes";
    return false;
  }
  bg_bits_ = bg;
  bank_index_bits_ = bg + ba;
  rows_ = spec.rows;
  offset_bits_ = off;
  n_fields_ = 0;
  for (int i = n - 1; i >= 0; --i) {  // least significant first
    int bits = 0;
    switch (seq[i]) {
      case Ro:
        bits = exact_log2(spec.rows);
        break;
      case Bg:
        bits = bg;
        break;
      case Ba:
        bits = separate_bg_ ? ba : bg + ba;
        break;
      case Ra:
        bits = ra;
        break;
      case Co:
        bits = co;
        break;
      case Ch:
        bits = ch;
        break;
      default:
        break;
    }
    fields_[n_fields_++] = Field{seq[i], bits};
  }
  // Each field's shift and mask from the address (absent: mask 0, the field reads 0).
  int at = offset_bits_;
  for (int k = 0; k < kKinds; ++k) shift_[k] = 0, mask_[k] = 0;
  for (int i = 0; i < n_fields_; ++i) {
    shift_[fields_[i].kind] = at;
    mask_[fields_[i].kind] = (std::uint64_t(1) << fields_[i].bits) - 1;
    at += fields_[i].bits;
  }
  return true;
}

DramAddress AddressMapping::decode(std::uint64_t addr) const {
  // Straight-line: every field's bits at its precomputed shift (the row's field takes the row bits, the rest
  // of the address above it is ignored, modulo rows).
  DramAddress d;
  d.channel = int((addr >> shift_[Ch]) & mask_[Ch]);
  d.rank = int((addr >> shift_[Ra]) & mask_[Ra]);
  d.column = int((addr >> shift_[Co]) & mask_[Co]);
  d.row = std::int64_t((addr >> shift_[Ro]) & mask_[Ro]);
  const int bank_field = int((addr >> shift_[Ba]) & mask_[Ba]), bg_field = int((addr >> shift_[Bg]) & mask_[Bg]);
  // Flat bank index within the rank: bank group in the low bits.
  int flat = separate_bg_ ? (bank_field << bg_bits_) | bg_field : bank_field;
  if (xor_) flat ^= int(std::uint64_t(d.row) & ((std::uint64_t(1) << bank_index_bits_) - 1));
  d.bank_group = flat & ((1 << bg_bits_) - 1);
  d.bank = flat >> bg_bits_;
  return d;
}

std::uint64_t AddressMapping::encode(const DramAddress& d) const {
  int flat = (d.bank << bg_bits_) | d.bank_group;
  if (xor_) flat ^= int(std::uint64_t(d.row) & ((std::uint64_t(1) << bank_index_bits_) - 1));
  std::uint64_t a = 0;
  int shift = offset_bits_;
  for (int i = 0; i < n_fields_; ++i) {
    const Field& f = fields_[i];
    std::uint64_t v = 0;
    switch (f.kind) {
      case Ro:
        v = std::uint64_t(d.row);
        break;
      case Bg:
        v = std::uint64_t(flat & ((1 << bg_bits_) - 1));
        break;
      case Ba:
        v = std::uint64_t(separate_bg_ ? flat >> bg_bits_ : flat);
        break;
      case Ra:
        v = std::uint64_t(d.rank);
        break;
      case Co:
        v = std::uint64_t(d.column);
        break;
      case Ch:
        v = std::uint64_t(d.channel);
        break;
      default:
        break;
    }
    a |= v << shift;
    shift += f.bits;
  }
  return a;
}

int AddressMapping::block_shift() const {
  int s = 64;
  for (Kind k : {Ro, Bg, Ba, Ra})
    if (mask_[k] != 0) s = std::min(s, shift_[k]);
  return s;
}

}  // namespace attnsim
