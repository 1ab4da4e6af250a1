#!/usr/bin/env python3
"""Writes the DRAM latency-calibration traces of traces/ (DRAMSim3 format: 0xADDR READ|WRITE CYCLE).

The same files were replayed on DRAMSim3 (umd-memsys/DRAMsim3, header lines removed) and on attnsim's
cycle-accurate controller; the figures are in traces/dramsim3_reference.json. Deterministic: rerunning
rewrites byte-identical files.
    scripts/make_calibration_traces.py [OUT_DIR]   (default: traces/)
"""
import math
import os
import random
import sys

GIB = 1 << 30
RANDOM_GAPS = (32, 16, 12, 10)  # mean cycles between random reads (DDR4 and HBM2 saturate near 8-9)
STREAM_GAPS = (8, 6, 4, 3)      # cycles between sequential reads (peak: DDR4 4, one HBM2 channel 2)


def write(path, header, lines):
    with open(path, "w") as f:
        f.write("# " + header + "\n")
        f.write("\n".join(lines) + "\n")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "traces"
    rng = random.Random(16)
    write(os.path.join(out, "idle_random_1000.dramsim3.trace"),
          "DRAMSim3 format: 0xADDR READ|WRITE CYCLE (DRAM cycles). 1000 random 64 B-aligned reads over 1 GiB, "
          "one every 1000 cycles (Python random.Random(16); scripts/make_calibration_traces.py)",
          ["0x%08x READ %d" % (rng.randrange(GIB // 64) * 64, i * 1000) for i in range(1000)])
    rng = random.Random(17)
    write(os.path.join(out, "loaded_random.dramsim3.trace"),
          "DRAMSim3 format. 2000 random 64 B-aligned reads over 1 GiB, one offered every cycle (saturating) "
          "(Python random.Random(17); scripts/make_calibration_traces.py)",
          ["0x%08x READ %d" % (rng.randrange(GIB // 64) * 64, i) for i in range(2000)])
    write(os.path.join(out, "stream_reads.dramsim3.trace"),
          "DRAMSim3 format. 2000 sequential 64 B reads from 0 (128 KiB), one offered every cycle "
          "(saturating; scripts/make_calibration_traces.py)",
          ["0x%08x READ %d" % (i * 64, i) for i in range(2000)])
    # Loaded latency against offered load (below and at saturation), the same files for every preset:
    # random reads arriving as a Poisson process (exponential gaps of mean G cycles, arrival cycle the floor
    # of the running sum, at least one cycle after the previous: both simulators offer one request per
    # clock at most), and a sequential read stream at one read every G cycles.
    for gap in RANDOM_GAPS:
        rng = random.Random(1000 + gap)
        lines, t, prev = [], 0.0, -1
        for _ in range(2000):
            cycle = max(prev + 1, int(math.floor(t)))
            lines.append("0x%08x READ %d" % (rng.randrange(GIB // 64) * 64, cycle))
            prev = cycle
            t += rng.expovariate(1.0 / gap)
        write(os.path.join(out, "poisson_random_%d.dramsim3.trace" % gap),
              "DRAMSim3 format. 2000 random 64 B-aligned reads over 1 GiB, Poisson arrivals with a mean gap of "
              "%d cycles (Python random.Random(%d); scripts/make_calibration_traces.py)" % (gap, 1000 + gap), lines)
    for gap in STREAM_GAPS:
        write(os.path.join(out, "stream_every_%d.dramsim3.trace" % gap),
              "DRAMSim3 format. 2000 sequential 64 B reads from 0 (128 KiB), one every %d cycles "
              "(scripts/make_calibration_traces.py)" % gap,
              ["0x%08x READ %d" % (i * 64, i * gap) for i in range(2000)])


if __name__ == "__main__":
    main()
