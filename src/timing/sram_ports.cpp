#include "timing/sram_ports.h"

#include <algorithm>
#include <cstdint>
#include <string>

#include "common/errors.h"
#include "config/sram_map.h"

namespace attnsim {

namespace {

// bytes * part / whole, rounded up; 128-bit because a tile's bytes times a bank's extent can pass 2^64.
std::uint64_t proportional_ceil(std::uint64_t bytes, std::uint64_t part, std::uint64_t whole) {
  const unsigned __int128 p = static_cast<unsigned __int128>(bytes) * part;
  return std::uint64_t((p + whole - 1) / whole);
}

// The banks' shares of a transfer of `bytes` over a region of `whole` bytes, bank by bank in the
// order reserve() visits them: need(extent) = proportional_ceil(bytes, extent, whole), and next(extent)
// = the difference of the rounded cumulative share, proportional_ceil(bytes, before + extent, whole)
// - proportional_ceil(bytes, before, whole). The same values as those formulas, without a 128-bit
// division per bank (reserve() is the hot path of the mapper's timer and of the accelerator): the
// cumulative bytes * before / whole is kept as a quotient and a remainder, each new extent's
// bytes * extent / whole divided once and reused while the extents repeat (most banks of a region
// hold the same extent); a transfer of the region's own bytes is its extents themselves.
class Shares {
 public:
  Shares(std::uint64_t bytes, std::uint64_t whole) : bytes_(bytes), whole_(whole), same_(bytes == whole) {}
  std::uint64_t need(std::uint64_t extent) {
    if (same_) return extent;
    split(extent);
    return q_e_ + (r_e_ != 0);
  }
  std::uint64_t next(std::uint64_t extent) {
    if (same_) return extent;
    split(extent);
    const std::uint64_t before = q_ + (r_ != 0);
    q_ += q_e_, r_ += r_e_;
    if (r_ >= whole_) ++q_, r_ -= whole_;
    return q_ + (r_ != 0) - before;
  }

 private:
  // bytes * extent = q_e_ * whole + r_e_ (extent <= whole, so q_e_ <= bytes fits 64 bits).
  void split(std::uint64_t extent) {
    if (extent == extent_ && split_) return;
    const unsigned __int128 p = static_cast<unsigned __int128>(bytes_) * extent;
    if (p >> 64) {
      q_e_ = std::uint64_t(p / whole_), r_e_ = std::uint64_t(p % whole_);
    } else {
      q_e_ = std::uint64_t(p) / whole_, r_e_ = std::uint64_t(p) % whole_;
    }
    extent_ = extent, split_ = true;
  }
  std::uint64_t bytes_, whole_;
  bool same_, split_ = false;
  std::uint64_t extent_ = 0, q_e_ = 0, r_e_ = 0;
  std::uint64_t q_ = 0, r_ = 0;  // bytes * (extents so far) = q_ * whole + r_, r_ < whole
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
  Side& side = side_[write];
  const std::uint64_t banks = std::uint64_t(cfg_.banks);

  if (r.bytes % (std::uint64_t(cfg_.stripe_bytes()) * banks) == 0 && bytes % banks == 0 && !observer_) {
    // Whole periods, an even split (header): every bank's share is bytes / banks, as the loop below
    // would find (the cumulative rounding has no remainder), and every bank gets the same need.
    const std::uint64_t share = bytes / banks, words = (share + word - 1) / word;
    const std::int64_t need = std::int64_t((share + per_cycle - 1) / per_cycle);
    const std::int64_t before = std::max(side.max_busy + side.add, side.floor);  // the busiest bank's
    side.add += need;
    side.floor = std::max(side.floor, now_cycle) + need;
    const std::int64_t done = std::max(now_cycle, before) + need;
    side.bytes_add += share;
    side.words_add += words;
    all_accesses += banks * words;
    queueing_cycles_ += done - (now_cycle + need);
    return done;
  }

  const std::uint64_t g = std::uint64_t(cfg_.stripe_bytes());
  if (r.addr % g == 0 && r.bytes % g == 0 && r.bytes / g < banks && bytes % (r.bytes / g) == 0 && !observer_) {
    // Whole stripes, fewer than a period, split evenly: each of the m banks from the first holds one stripe and
    // gets bytes / m, as the loop below would find, with the same need; one pass, no division per bank.
    const std::uint64_t m = r.bytes / g, share = bytes / m, words = (share + word - 1) / word;
    const std::int64_t need = std::int64_t((share + per_cycle - 1) / per_cycle);
    std::int64_t done = now_cycle;
    std::uint64_t b = (r.addr / g) % banks;
    for (std::uint64_t i = 0; i < m; ++i) {
      const std::int64_t value = std::max(now_cycle, std::max(busy[b] + side.add, side.floor)) + need;
      busy[b] = value - side.add;
      side.max_busy = std::max(side.max_busy, busy[b]);
      done = std::max(done, value);
      total[b] += share;
      accesses[b] += words;
      if (++b == banks) b = 0;
    }
    all_accesses += m * words;
    queueing_cycles_ += done - (now_cycle + need);
    return done;
  }

  std::int64_t done = now_cycle, max_need = 0;
  Shares shares(bytes, r.bytes);
  // Most banks of a region have the same extent and share: their need and port words are reused.
  std::uint64_t last_extent = 0, last_share = 0, last_words = 0;
  std::int64_t need = 0;
  for_each_sram_bank_extent(cfg_, r.addr, r.bytes, [&](int b, std::uint64_t extent) {
    // Timing: the bank's proportional share rounded up, so no bank is charged less than its part.
    if (extent != last_extent || need == 0) {
      need = std::int64_t((shares.need(extent) + per_cycle - 1) / per_cycle);
      last_extent = extent;
    }
    const std::int64_t value = std::max(now_cycle, std::max(busy[b] + side.add, side.floor)) + need;
    busy[b] = value - side.add;
    side.max_busy = std::max(side.max_busy, busy[b]);
    done = std::max(done, value);
    max_need = std::max(max_need, need);
    // Statistics: differences of the rounded cumulative share, so the banks' parts sum to bytes.
    const std::uint64_t share = shares.next(extent);
    if (share != last_share || last_words == 0) last_share = share, last_words = (share + word - 1) / word;
    total[b] += share;
    accesses[b] += last_words;
    all_accesses += last_words;
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
  std::uint64_t before = 0;
  for_each_sram_bank_extent(cfg_, r.addr, r.bytes, [&](int b, std::uint64_t extent) {
    const std::int64_t need = std::int64_t((proportional_ceil(bytes, extent, r.bytes) + per_cycle - 1) / per_cycle);
    const std::uint64_t share =
        proportional_ceil(bytes, before + extent, r.bytes) - proportional_ceil(bytes, before, r.bytes);
    before += extent;
    observer_->on_bank_transfer(b, write, busy_until(b, write) - need, need, share);
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
  const Side& side = side_[write];
  return std::max((write ? write_busy_until_ : read_busy_until_)[std::size_t(bank)] + side.add, side.floor);
}

}  // namespace attnsim
