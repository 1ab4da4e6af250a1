#include "timing/sram_ports.h"

#include <algorithm>
#include <string>

#include "common/errors.h"
#include "config/sram_map.h"

namespace attnsim {

namespace {

// bytes * part / whole rounded up, for the parts (0 <= part <= whole) of one region: bytes = q whole + rem
// is divided once, and q part + ceil(rem part / whole) is the same number without a 128-bit product
// per bank (rem part < whole^2 takes 128 bits only past 2^64; a whole multiple, rem = 0, no division).
class ProportionalCeil {
 public:
  ProportionalCeil(std::uint64_t bytes, std::uint64_t whole) : q_(bytes / whole), rem_(bytes % whole), whole_(whole) {}
  std::uint64_t operator()(std::uint64_t part) const {
    if (rem_ == 0 || part == 0) return q_ * part;
    std::uint64_t p = 0;
    if (!__builtin_mul_overflow(rem_, part, &p)) return q_ * part + (p + whole_ - 1) / whole_;
    const unsigned __int128 w = static_cast<unsigned __int128>(rem_) * part;
    return q_ * part + std::uint64_t((w + whole_ - 1) / whole_);
  }

 private:
  std::uint64_t q_, rem_, whole_;
};

}  // namespace

SramPorts::SramPorts(const SramConfig& sram, const AccumulatorConfig& accumulators)
    : cfg_(sram),
      acc_(accumulators),
      read_busy_until_(std::size_t(sram.banks), 0),
      write_busy_until_(std::size_t(sram.banks), 0),
      read_bytes_(std::size_t(sram.banks), 0),
      written_bytes_(std::size_t(sram.banks), 0),
      read_accesses_(std::size_t(sram.banks), 0),
      write_accesses_(std::size_t(sram.banks), 0) {
  ATTNSIM_ASSERT(
      sram.banks > 0 && sram.bytes_per_bank > 0 && sram.port_bytes > 0 && sram.read_ports > 0 && sram.write_ports > 0,
      "SRAM banks and ports must be positive");
}

std::int64_t SramPorts::reserve(const SramRegion& r, std::uint64_t bytes, bool write, std::int64_t now_cycle,
                               bool array_side) {
  if (bytes == 0 || r.bytes == 0) return now_cycle;
  if (acc_.present && r.addr >= std::uint64_t(cfg_.total_bytes()))
    return reserve_accumulators(r, bytes, write, now_cycle, array_side);
  ATTNSIM_ASSERT(r.addr + r.bytes <= std::uint64_t(cfg_.total_bytes()),
                 "SRAM region [" + std::to_string(r.addr) + ", +" + std::to_string(r.bytes) + ") lies outside the SRAM");
  const std::uint64_t per_cycle =
      std::uint64_t(cfg_.port_bytes) * std::uint64_t(write ? cfg_.write_ports : cfg_.read_ports);
  auto& busy = write ? write_busy_until_ : read_busy_until_;
  auto& total = write ? written_bytes_ : read_bytes_;
  auto& accesses = write ? write_accesses_ : read_accesses_;
  std::uint64_t& all_accesses = write ? total_write_accesses_ : total_read_accesses_;
  const std::uint64_t word = std::uint64_t(cfg_.port_bytes);

  std::int64_t done = now_cycle, max_need = 0;
  std::uint64_t before = 0;  // the region's extent in the banks already visited
  const ProportionalCeil proportional_ceil(bytes, r.bytes);
  // A region spread over the banks has the same extent in most of them, and a share that is a whole
  // multiple of the region (rem 0) the same share: the divisions of the last bank are reused.
  std::uint64_t last_extent = ~std::uint64_t(0), last_share = ~std::uint64_t(0), last_words = 0;
  std::int64_t need = 0;
  std::uint64_t cum_before = 0;  // proportional_ceil(before), the previous bank's cumulative share
  for_each_sram_bank_extent(cfg_, r.addr, r.bytes, [&](int b, std::uint64_t extent) {
    // Timing: the bank's proportional share rounded up, so no bank is charged less than its part.
    if (extent != last_extent)
      need = std::int64_t((proportional_ceil(extent) + per_cycle - 1) / per_cycle), last_extent = extent;
    busy[b] = std::max(now_cycle, busy[b]) + need;
    done = std::max(done, busy[b]);
    max_need = std::max(max_need, need);
    // Statistics: differences of the rounded cumulative share, so the banks' parts sum to bytes.
    const std::uint64_t cum = proportional_ceil(before + extent), share = cum - cum_before;
    cum_before = cum;
    if (share != last_share) last_words = (share + word - 1) / word, last_share = share;
    total[b] += share;
    accesses[b] += last_words;
    all_accesses += last_words;
    before += extent;
  });
  queueing_cycles_ += done - (now_cycle + max_need);
  if (observer_) notify(r, bytes, write);
  return done;
}

// Outside reserve()'s loop, so that the loop is the same code with or without an observer: each
// bank of the region was visited once above, so its side now ends at start + need.
void SramPorts::notify(const SramRegion& r, std::uint64_t bytes, bool write) const {
  const std::uint64_t per_cycle =
      std::uint64_t(cfg_.port_bytes) * std::uint64_t(write ? cfg_.write_ports : cfg_.read_ports);
  const auto& busy = write ? write_busy_until_ : read_busy_until_;
  std::uint64_t before = 0;
  const ProportionalCeil proportional_ceil(bytes, r.bytes);
  for_each_sram_bank_extent(cfg_, r.addr, r.bytes, [&](int b, std::uint64_t extent) {
    const std::int64_t need = std::int64_t((proportional_ceil(extent) + per_cycle - 1) / per_cycle);
    const std::uint64_t share = proportional_ceil(before + extent) - proportional_ceil(before);
    before += extent;
    observer_->on_bank_transfer(b, write, busy[b] - need, need, share);
  });
}

std::int64_t SramPorts::reserve_accumulators(const SramRegion& r, std::uint64_t bytes, bool write,
                                            std::int64_t now_cycle, bool array_side) {
  const std::uint64_t base = std::uint64_t(cfg_.total_bytes());
  ATTNSIM_ASSERT(r.addr + r.bytes <= base + std::uint64_t(acc_.bytes),
                 "accumulator region [" + std::to_string(r.addr) + ", +" + std::to_string(r.bytes) +
                     ") lies outside the accumulator storage");
  const std::uint64_t per_cycle = std::uint64_t(array_side ? acc_.array_port_bytes : acc_.port_bytes);
  std::int64_t& busy = acc_busy_until_[array_side][write];
  const std::int64_t need = std::int64_t((bytes + per_cycle - 1) / per_cycle);
  const std::int64_t start = std::max(now_cycle, busy);
  busy = start + need;
  acc_totals_.queueing_cycles += start - now_cycle;
  (array_side ? (write ? acc_totals_.array_written_bytes : acc_totals_.array_read_bytes)
              : (write ? acc_totals_.unit_written_bytes : acc_totals_.unit_read_bytes)) += bytes;
  (array_side ? (write ? acc_totals_.array_write_accesses : acc_totals_.array_read_accesses)
              : (write ? acc_totals_.unit_write_accesses : acc_totals_.unit_read_accesses)) += std::uint64_t(need);
  if (observer_) observer_->on_accumulator_transfer(array_side, write, start, need, bytes);
  return busy;
}

std::int64_t SramPorts::busy_until(int bank, bool write) const {
  ATTNSIM_ASSERT(bank >= 0 && bank < cfg_.banks, "no such SRAM bank");
  return (write ? write_busy_until_ : read_busy_until_)[std::size_t(bank)];
}

}  // namespace attnsim
