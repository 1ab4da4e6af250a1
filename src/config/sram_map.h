#pragma once
// The SRAM address map: which bank holds which bytes. Addresses are striped over the banks in
// stripes of g = SramConfig::stripe_bytes(): the byte at addr is in bank (addr / g) % banks (g =
// bytes_per_bank is the contiguous layout, bank = addr / bytes_per_bank). Plain header, used by
// the bank ports (hw/), the SRAM report and the compiler's placement.
//
// A region's extent in bank b, in closed form: with period P = g * banks, bank b holds, of the
// bytes [0, x), F_b(x) = (x / P) g + clamp(x % P - b g, 0, g); the region [lo, hi) then has
// F_b(hi) - F_b(lo) bytes in bank b. The banks a region touches are the stripes it spans, at most
// all of them, visited from the bank of its first byte upward (wrapping): O(min(banks, stripes)).
#include <algorithm>
#include <cstdint>

#include "config/hw_config.h"

namespace attnsim {

// Bytes of [0, x) that bank b holds.
inline std::uint64_t sram_bank_bytes_below(const SramConfig& s, std::uint64_t bank, std::uint64_t x) {
  const std::uint64_t g = std::uint64_t(s.stripe_bytes()), period = g * std::uint64_t(s.banks);
  const std::uint64_t r = x % period, start = bank * g;
  return (x / period) * g + (r > start ? std::min(r - start, g) : 0);
}

// The number of banks [addr, addr + bytes) touches (bytes > 0).
inline std::uint64_t sram_banks_touched(const SramConfig& s, std::uint64_t addr, std::uint64_t bytes) {
  const std::uint64_t g = std::uint64_t(s.stripe_bytes());
  return std::min<std::uint64_t>(std::uint64_t(s.banks), (addr + bytes - 1) / g - addr / g + 1);
}

// Calls f(bank, extent) for each bank [addr, addr + bytes) touches, in the order described above
// (ascending banks for a contiguous layout); the extents sum to bytes. No allocation.
template <typename F>
void for_each_sram_bank_extent(const SramConfig& s, std::uint64_t addr, std::uint64_t bytes, F&& f) {
  if (bytes == 0) return;
  const std::uint64_t g = std::uint64_t(s.stripe_bytes()), banks = std::uint64_t(s.banks);
  const std::uint64_t first = (addr / g) % banks, n = sram_banks_touched(s, addr, bytes);
  // F_b(hi) - F_b(lo) of sram_bank_bytes_below, with the divisions by the period done once.
  const std::uint64_t period = g * banks, hi = addr + bytes;
  const std::uint64_t whole = (hi / period - addr / period) * g, hr = hi % period, lr = addr % period;
  auto part = [g](std::uint64_t r, std::uint64_t start) { return r > start ? std::min(r - start, g) : 0; };
  for (std::uint64_t i = 0, b = first; i < n; ++i, b = b + 1 == banks ? 0 : b + 1)
    f(int(b), whole + part(hr, b * g) - part(lr, b * g));
}

}  // namespace attnsim
