#!/usr/bin/env python3
"""Writes the DRAM latency-calibration traces of traces/ (DRAMSim3 format: 0xADDR READ|WRITE CYCLE).

The same files were replayed on DRAMSim3 (umd-memsys/DRAMsim3, header lines removed) and on attnsim's
cycle-accurate controller; the figures are in traces/dramsim3_reference.json. Deterministic: rerunning
rewrites byte-identical files.
    scripts/make_calibration_traces.py [OUT_DIR]   (default: traces/)
"""
import os
import random
import sys

GIB = 1 << 30


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


if __name__ == "__main__":
    main()
