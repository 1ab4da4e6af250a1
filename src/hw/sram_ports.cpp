#include "hw/sram_ports.h"

#include <algorithm>
#include <string>

#include "common/errors.h"

namespace attnsim {

namespace {

// bytes * part / whole, rounded up; 128-bit because a tile's bytes times a bank's extent can pass 2^64.
std::uint64_t proportional_ceil(std::uint64_t bytes, std::uint64_t part, std::uint64_t whole) {
  const unsigned __int128 p = static_cast<unsigned __int128>(bytes) * part;
  return std::uint64_t((p + whole - 1) / whole);
}

}  // namespace

SramPorts::SramPorts(const SramConfig& sram)
    : cfg_(sram),
      read_busy_until_(std::size_t(sram.banks), 0),
      write_busy_until_(std::size_t(sram.banks), 0),
      read_bytes_(std::size_t(sram.banks), 0),
      written_bytes_(std::size_t(sram.banks), 0) {
  ATTNSIM_ASSERT(
      sram.banks > 0 && sram.bytes_per_bank > 0 && sram.port_bytes > 0 && sram.read_ports > 0 && sram.write_ports > 0,
      "SRAM banks and ports must be positive");
}

std::int64_t SramPorts::reserve(const SramRegion& r, std::uint64_t bytes, bool write, std::int64_t now_cycle) {
  if (bytes == 0 || r.bytes == 0) return now_cycle;
  const std::uint64_t bpb = std::uint64_t(cfg_.bytes_per_bank);
  const std::uint64_t first = r.addr / bpb, last = (r.addr + r.bytes - 1) / bpb;
  ATTNSIM_ASSERT(last < std::uint64_t(cfg_.banks), "SRAM region [" + std::to_string(r.addr) + ", +" +
                                                       std::to_string(r.bytes) + ") lies outside the SRAM");
  const std::uint64_t per_cycle =
      std::uint64_t(cfg_.port_bytes) * std::uint64_t(write ? cfg_.write_ports : cfg_.read_ports);
  auto& busy = write ? write_busy_until_ : read_busy_until_;
  auto& total = write ? written_bytes_ : read_bytes_;

  std::int64_t done = now_cycle, max_need = 0;
  std::uint64_t before = 0;  // the region's extent in the banks already visited
  for (std::uint64_t b = first; b <= last; ++b) {
    const std::uint64_t lo = std::max(r.addr, b * bpb), hi = std::min(r.addr + r.bytes, (b + 1) * bpb);
    const std::uint64_t extent = hi - lo;
    // Timing: the bank's proportional share rounded up, so no bank is charged less than its part.
    const std::int64_t need = std::int64_t((proportional_ceil(bytes, extent, r.bytes) + per_cycle - 1) / per_cycle);
    busy[b] = std::max(now_cycle, busy[b]) + need;
    done = std::max(done, busy[b]);
    max_need = std::max(max_need, need);
    // Statistics: differences of the rounded cumulative share, so the banks' parts sum to bytes.
    total[b] += proportional_ceil(bytes, before + extent, r.bytes) - proportional_ceil(bytes, before, r.bytes);
    before += extent;
  }
  queueing_cycles_ += done - (now_cycle + max_need);
  if (observer_) notify(r, bytes, write);
  return done;
}

// Outside reserve()'s loop, so that the loop is the same code with or without an observer: each
// bank of the region was visited once above, so its side now ends at start + need.
void SramPorts::notify(const SramRegion& r, std::uint64_t bytes, bool write) const {
  const std::uint64_t bpb = std::uint64_t(cfg_.bytes_per_bank);
  const std::uint64_t first = r.addr / bpb, last = (r.addr + r.bytes - 1) / bpb;
  const std::uint64_t per_cycle =
      std::uint64_t(cfg_.port_bytes) * std::uint64_t(write ? cfg_.write_ports : cfg_.read_ports);
  const auto& busy = write ? write_busy_until_ : read_busy_until_;
  std::uint64_t before = 0;
  for (std::uint64_t b = first; b <= last; ++b) {
    const std::uint64_t lo = std::max(r.addr, b * bpb), hi = std::min(r.addr + r.bytes, (b + 1) * bpb);
    const std::uint64_t extent = hi - lo;
    const std::int64_t need = std::int64_t((proportional_ceil(bytes, extent, r.bytes) + per_cycle - 1) / per_cycle);
    const std::uint64_t share =
        proportional_ceil(bytes, before + extent, r.bytes) - proportional_ceil(bytes, before, r.bytes);
    before += extent;
    observer_->on_bank_transfer(int(b), write, busy[b] - need, need, share);
  }
}

std::int64_t SramPorts::busy_until(int bank, bool write) const {
  ATTNSIM_ASSERT(bank >= 0 && bank < cfg_.banks, "no such SRAM bank");
  return (write ? write_busy_until_ : read_busy_until_)[std::size_t(bank)];
}

}  // namespace attnsim
