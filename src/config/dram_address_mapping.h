#pragma once
// Physical address -> (channel, rank, bank group, bank, row, column), from a mapping string that names
// the fields from the most to the least significant bits, Ramulator 2 style:
//   Ro row, Bg bank group, Ba bank, Ra rank, Co column (in bursts), Ch channel.
// The burst offset (log2 of the burst size) is always the lowest field. When Bg is not named, Ba
// covers bank group and bank together, with the bank-group bits lowest (so consecutive Ba values
// alternate bank groups). Example for DDR4-3200, 1 channel, 1 rank, 64 B bursts, "RoBaRaCoCh":
//   bits [5:0] offset, [12:6] column (128 bursts per 8 KB row), [16:13] bank group + bank, [32:17] row.
// A suffix "-xor" selects permutation-based interleaving (Zhang, Zhu and Zhang, MICRO 2000): the
// bank group + bank index is XORed with the lowest bits of the row, so a stride that maps to one
// bank with changing rows is spread over all banks.
// All counts must be powers of two; address bits above the row field wrap around (row modulo rows).
#include <cstdint>
#include <string>

#include "config/dram_spec.h"

namespace attnsim {

struct DramAddress {
  int channel = 0;
  int rank = 0;
  int bank_group = 0;
  int bank = 0;  // within the bank group
  std::int64_t row = 0;
  int column = 0;  // burst index within the row
  bool operator==(const DramAddress& o) const {
    return channel == o.channel && rank == o.rank && bank_group == o.bank_group && bank == o.bank && row == o.row &&
           column == o.column;
  }
};

class AddressMapping {
 public:
  // Parses and checks the mapping against the spec's counts; on failure returns false and sets *error.
  bool parse(const std::string& mapping, const DramSpec& spec, std::string* error);
  DramAddress decode(std::uint64_t addr) const;
  // The lowest address that decodes to a (for tests and trace generators; xor is undone).
  std::uint64_t encode(const DramAddress& a) const;
  const std::string& text() const { return text_; }
  // The lowest address bit of the channel field, and the lowest of the rank, bank group, bank and row
  // fields: within an aligned block of 2^block_shift() bytes only the channel and column change.
  int channel_shift() const { return shift_[Ch]; }
  int block_shift() const;

 private:
  enum Kind : std::uint8_t { Ro, Bg, Ba, Ra, Co, Ch, kKinds };
  struct Field {
    Kind kind;
    int bits;
  };
  Field fields_[kKinds] = {};  // least significant first
  int n_fields_ = 0;
  int shift_[kKinds] = {};            // per field: its lowest bit in the address
  std::uint64_t mask_[kKinds] = {};   // and its mask after the shift (0: absent)
  int offset_bits_ = 0;
  int bg_bits_ = 0;  // bank-group bits inside a combined Ba field
  bool separate_bg_ = false;
  bool xor_ = false;
  int bank_index_bits_ = 0;  // bank group + bank
  std::int64_t rows_ = 1;
  std::string text_;
};

// log2 of a power of two, or -1.
int exact_log2(std::int64_t v);

}  // namespace attnsim
