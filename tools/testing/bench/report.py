#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
#
# report.py: turns the raw results of one "make bench" VM boot into the
# summary: medians with min and max over the rounds, the ratios ours/peer and
# ours/reference, the targets met or missed, a markdown table
# (results.md) and the data files tools/testing/bench/plots.gp draws.
#
#   report.py VM_RESULTS_DIR OUT_DIR
#
# VM_RESULTS_DIR holds raw.tsv (round side driver metric value unit, written
# by tools/testing/bench/vm-bench) and vm-info.  The markdown also goes to
# stdout.

import collections
import os
import statistics
import sys

LEVELS = [1, 24, 64, 512, 4096]
PAIR_SCALING = ["null", "test_mdev", "mgpu", "mbochs-small", "mtty"]

# What each driver label means, for the tables.
DRIVERS = {
    "mgpu": "ours: mgpu, mgpu-eighth (64 MiB BAR0), 8 GPUs",
    "mgpu-quarter": "ours: mgpu, mgpu-quarter (128 MiB BAR0), migration",
    "test_mdev": "ours: test_mdev.ko vfio=Y (registers a vfio_device)",
    "null": "ours: test_mdev.ko vfio=N (empty probe: the null driver)",
    "mbochs-large": "peer: Debian mdev.ko + mbochs, mbochs-large (64 MiB)",
    "mbochs-small": "peer: Debian mdev.ko + mbochs, mbochs-small (4 MiB)",
    "mbochs": "peer: Debian mdev.ko + mbochs, mbochs-large (64 MiB)",
    "mtty": "peer: Debian mdev.ko + mtty, mtty-1 (1 port)",
    "memcpy": "reference: memcpy in the VM",
    "anon": "reference: anonymous memory, THP as configured",
    "anon-4k": "reference: anonymous memory, MADV_NOHUGEPAGE",
}


# The colour of a bar: 1 ours, 2 peer, anything else 3 (reference).
SIDES = {"mgpu": 1, "mgpu-quarter": 1, "test_mdev": 1, "null": 1, "mbochs": 2,
         "mbochs-large": 2, "mbochs-small": 2, "mtty": 2}


# Weight mixes of the engine fairness measurement (vm-bench).
ENGINE_MIXES = ["1:1", "1:2:4", "1:8"]
ENGINE_METRICS = [
    ("engine_fill", "engine FILL, 8 MiB in VRAM"),
    ("engine_copy", "engine COPY, 8 MiB within VRAM"),
    ("engine_from_ram", "engine COPY_FROM_RAM, 8 MiB"),
    ("engine_to_ram", "engine COPY_TO_RAM, 8 MiB"),
    ("cpu_memset", "memset, 8 MiB, same process"),
    ("cpu_memcpy", "memcpy, 8 MiB, same process"),
]


def mix_weights(mix):
    return [int(w) for w in mix.split(":")]


class Stat:
    """Median, min and max of one metric over the rounds."""

    def __init__(self, by_round):
        self.by_round = by_round
        values = list(by_round.values())
        self.n = len(values)
        self.median = statistics.median(values)
        self.min = min(values)
        self.max = max(values)


def load(vm_dir):
    data = collections.defaultdict(dict)
    with open(os.path.join(vm_dir, "raw.tsv")) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 6:
                continue
            rnd, _side, driver, metric, value, _unit = parts
            data[(driver, metric)][int(rnd)] = float(value)
    return {k: Stat(v) for k, v in data.items()}


def fmt(v):
    if v is None:
        return "-"
    a = abs(v)
    if a >= 100000:
        return "%.0f" % v
    if a >= 100:
        return "%.0f" % v
    if a >= 10:
        return "%.1f" % v
    return "%.2f" % v


def cell(s):
    """median (min-max) [n]"""
    if s is None:
        return "-"
    return "%s (%s-%s)" % (fmt(s.median), fmt(s.min), fmt(s.max))


def ratio(a, b):
    """
    The ratio a/b of two metrics, paired by round: a Stat of a_r / b_r over
    the rounds that have both.  The two were measured seconds apart in the
    same round, so the load of the host mostly cancels out.
    """
    if a is None or b is None:
        return None
    per_round = {r: a.by_round[r] / b.by_round[r] for r in a.by_round
                 if r in b.by_round and b.by_round[r]}
    return Stat(per_round) if per_round else None


def rfmt(r):
    if r is None:
        return "-"
    return "%.2fx (%.2f-%.2f)" % (r.median, r.min, r.max)


class Report:
    def __init__(self, stats, info):
        self.s = stats
        self.info = info
        self.out = []
        self.targets = []

    def get(self, driver, metric):
        return self.s.get((driver, metric))

    def p(self, line=""):
        self.out.append(line)

    def table(self, header, rows):
        self.p("| " + " | ".join(header) + " |")
        self.p("|" + "|".join("---" for _ in header) + "|")
        for r in rows:
            self.p("| " + " | ".join(r) + " |")
        self.p()

    def target(self, what, figure, value, limit, higher_is_better=True):
        if isinstance(value, Stat):
            value = value.median
        if value is None:
            verdict = "n/a"
        elif (value >= limit) if higher_is_better else (value <= limit):
            verdict = "met"
        else:
            verdict = "MISSED"
        self.targets.append((what, figure, verdict))

    # --- sections ---------------------------------------------------------

    def header(self):
        runs = max((s.n for s in self.s.values()), default=0)
        self.p("# make bench results")
        self.p()
        self.p("One VM boot (TCG), %s rounds, each measurement alternating "
               "ours, peer, reference.  Cells: median (min-max) over the "
               "rounds.  Ratios are taken per round (the two sides were "
               "measured seconds apart) and shown as median (min-max) over "
               "the rounds.  Absolute numbers are TCG numbers, not hardware "
               "numbers; the ratios are what this run shows." % runs)
        if self.info:
            self.p()
            self.p("VM: " + "; ".join("%s %s" % kv for kv in self.info.items()))
        self.p()

    def create_remove(self):
        self.p("## 1. Create + remove through sysfs (1 live instance)")
        self.p()
        rows = []
        for d in ["mgpu", "test_mdev", "null", "mbochs-large",
                  "mbochs-small", "mtty"]:
            pps = self.get(d, "pairs_per_s@1")
            if pps is None:
                continue
            rows.append([d, DRIVERS[d], cell(pps),
                         cell(self.get(d, "create_us@1")),
                         cell(self.get(d, "remove_us@1"))])
        self.table(["driver", "what", "pairs/s", "create us", "remove us"],
                   rows)

        mgpu = self.get("mgpu", "pairs_per_s@1")
        for peer in ["mbochs-large", "mtty"]:
            r = ratio(mgpu, self.get(peer, "pairs_per_s@1"))
            self.target("create+remove/s, mgpu >= peer (%s)" % peer,
                        "ours/peer %s" % rfmt(r), r, 1.0)
        r = ratio(self.get("mgpu", "pair_us@1"), self.get("null", "pair_us@1"))
        self.target("create+remove cost, mgpu within 1.25x of the null "
                    "driver", "mgpu/null %s" % rfmt(r), r, 1.25, False)
        r2 = ratio(self.get("mgpu", "pair_us@1"),
                   self.get("test_mdev", "pair_us@1"))
        self.p("Cost per pair (median pair), mgpu / null driver: %s; mgpu / "
               "test_mdev vfio=Y: %s; mgpu / mbochs-large: %s; mgpu / mtty: "
               "%s.  pairs/s counts every pair, so it also carries the "
               "moments the host took the CPU away; the per-pair medians "
               "do not."
               % (rfmt(r), rfmt(r2),
                  rfmt(ratio(self.get("mgpu", "pair_us@1"),
                             self.get("mbochs-large", "pair_us@1"))),
                  rfmt(ratio(self.get("mgpu", "pair_us@1"),
                             self.get("mtty", "pair_us@1")))))
        self.p()

        self.p("### Cost per create+remove pair (us) as live instances grow")
        self.p()
        header = ["driver"] + ["%d live" % n for n in LEVELS] + ["cap"]
        rows = []
        for d in PAIR_SCALING:
            row = [d]
            seen = False
            for n in LEVELS:
                st = self.get(d, "pair_us@%d" % n)
                seen = seen or st is not None
                row.append(cell(st))
            cap = self.get(d, "capacity")
            row.append("%d" % cap.median if cap else "")
            if seen:
                rows.append(row)
        self.table(header, rows)
        for d in ["test_mdev", "null"]:
            r = ratio(self.get(d, "pair_us@4096"), self.get(d, "pair_us@1"))
            self.target("ours (%s) at 4096 live within 1.25x of 1 live" % d,
                        "4096/1 %s" % rfmt(r), r, 1.25, False)
        for n in [1, 512, 4096]:
            r = ratio(self.get("mbochs-small", "pair_us@%d" % n),
                      self.get("test_mdev", "pair_us@%d" % n))
            self.target("create+remove at %d live, test_mdev >= mbochs-small"
                        % n, "peer cost/ours cost %s" % rfmt(r), r, 1.0)

    def region(self):
        self.p("## 2. Region access: pread/pwrite of BAR0 in 1 MiB chunks "
               "(MiB/s)")
        self.p()
        rows = []
        for d, what in [("mgpu", "64 MiB"), ("mbochs", "first %s"),
                        ("memcpy", "64 MiB")]:
            if d == "mbochs":
                what = what % self.info.get("peer_region", "?")
            if d == "memcpy":
                rows.append([d, DRIVERS[d], what, "", "",
                             cell(self.get(d, "memcpy_MiBps"))])
                continue
            if self.get(d, "pread_MiBps") is None:
                continue
            rows.append([d, DRIVERS[d], what,
                         cell(self.get(d, "pwrite_first_MiBps")),
                         cell(self.get(d, "pwrite_MiBps")),
                         cell(self.get(d, "pread_MiBps"))])
        self.table(["driver", "what", "bytes", "pwrite, first (allocates)",
                    "pwrite", "pread / memcpy"], rows)
        mc = self.get("memcpy", "memcpy_MiBps")
        for m in ["pread", "pwrite"]:
            ours = self.get("mgpu", m + "_MiBps")
            r = ratio(ours, self.get("mbochs", m + "_MiBps"))
            self.target("%s >= 50x peer" % m, "mgpu/mbochs %s" % rfmt(r),
                        r, 50)
            r = ratio(ours, mc)
            self.target("%s >= 0.5x memcpy" % m, "mgpu/memcpy %s" % rfmt(r),
                        r, 0.5)

    def mmap(self):
        self.p("## 3. mmap of the 64 MiB BAR0: first touch of every page, "
               "then memset")
        self.p()
        rows = []
        for d in ["mgpu", "mbochs", "anon", "anon-4k"]:
            if self.get(d, "touch_ms") is None:
                continue
            rows.append([d, DRIVERS[d], cell(self.get(d, "touch_ms")),
                         cell(self.get(d, "touch_MiBps")),
                         cell(self.get(d, "mmap_write_MiBps"))])
        self.table(["driver", "what", "first touch ms", "first touch MiB/s",
                    "write MiB/s"], rows)
        for ref in ["anon", "anon-4k"]:
            for m, name in [("touch_MiBps", "first touch"),
                            ("mmap_write_MiBps", "write")]:
                r = ratio(self.get("mgpu", m), self.get(ref, m))
                self.target("mmap %s >= 0.8x %s" % (name, ref),
                            "mgpu/%s %s" % (ref, rfmt(r)), r, 0.8)
        r = ratio(self.get("mgpu", "touch_MiBps"),
                  self.get("mbochs", "touch_MiBps"))
        self.p("mgpu/mbochs first touch: %s." % rfmt(r))
        self.p()

    def memory(self):
        self.p("## 4. Kernel memory per idle instance (Slab + VmallocUsed "
               "delta, bytes)")
        self.p()
        counts = [24, 64, 1024]
        rows = []
        for d in ["mgpu", "test_mdev", "null", "mbochs-small", "mtty"]:
            cells = [self.get(d, "mem_per_instance@%d" % n) for n in counts]
            if any(cells):
                rows.append([d, DRIVERS[d]] + [cell(c) for c in cells])
        self.table(["driver", "what"] + ["%d idle" % n for n in counts], rows)

        # Few instances fill holes in slabs that already exist, so a count
        # of 64 reads low; test_mdev, measured at both counts, shows by how
        # much, and mgpu (64 at most) is corrected by the same amount.
        mgpu = self.get("mgpu", "mem_per_instance@64")
        t64 = self.get("test_mdev", "mem_per_instance@64")
        t1024 = self.get("test_mdev", "mem_per_instance@1024")
        estimate = None
        if mgpu and t64 and t1024:
            estimate = mgpu.median + t1024.median - t64.median
            self.p("mgpu has room for 64 instances at most (8 GPUs x 8 "
                   "eighths).  64 instances partly fit in holes of slabs "
                   "that already exist, so the count of 64 reads low: "
                   "test_mdev vfio=Y reads %s KiB at 64 and %s KiB at 1024.  "
                   "Corrected by that difference, mgpu would cost about "
                   "%s KiB per instance at 1024."
                   % (fmt(t64.median / 1024), fmt(t1024.median / 1024),
                      fmt(estimate / 1024)))
            self.p()
        v = mgpu.median / 1024 if mgpu else None
        self.target("memory per idle instance (mgpu, 64) <= 16 KiB",
                    "%s KiB" % fmt(v), v, 16, False)
        if estimate is not None:
            self.target("memory per idle instance (mgpu, corrected to "
                        "1024) <= 16 KiB", "%s KiB" % fmt(estimate / 1024),
                        estimate / 1024, 16, False)
        v = t1024.median / 1024 if t1024 else None
        self.target("memory per idle instance (test_mdev, 1024) <= 16 KiB",
                    "%s KiB" % fmt(v), v, 16, False)

    def migration(self):
        self.p("## 5. Migration (VFIO v2 STOP_COPY / RESUMING), mgpu eighth "
               "with 64 MiB touched")
        self.p()
        save = self.get("mgpu", "save_MiBps")
        if save is None:
            self.p("n/a (no migration yet)")
            self.p()
            self.targets.append(("migration >= 0.5x memcpy",
                                 "n/a (no migration yet)", "n/a"))
            return
        mc = self.get("memcpy", "memcpy_MiBps")
        resume = self.get("mgpu", "resume_MiBps")
        self.table(["metric", "mgpu", "memcpy", "mgpu/memcpy"], [
            ["save MiB/s (of VRAM)", cell(save), cell(mc),
             rfmt(ratio(save, mc))],
            ["resume MiB/s (of VRAM)", cell(resume), cell(mc),
             rfmt(ratio(resume, mc))],
            ["stream bytes, 64 MiB touched",
             cell(self.get("mgpu", "stream_bytes")), "", ""],
            ["stream bytes, 1 page touched",
             cell(self.get("mgpu", "idle_stream_bytes")), "", ""],
        ])
        self.p("Kernel memory a session holds (Slab + VmallocUsed with the "
               "whole stream moved, less before the session), and the same "
               "64 MiB migrated between instances of twice the VRAM:")
        self.p()
        rows = []
        for drv, label in [("mgpu", "eighth"), ("mgpu-quarter", "quarter")]:
            vram = self.get(drv, "vram_MiB")
            rows.append(["%s (%s MiB VRAM)" % (label,
                                               fmt(vram.median) if vram else "?"),
                         cell(self.get(drv, "save_kmem_KiB")),
                         cell(self.get(drv, "resume_kmem_KiB")),
                         rfmt(ratio(self.get(drv, "save_MiBps"), mc)),
                         rfmt(ratio(self.get(drv, "resume_MiBps"), mc))])
        self.table(["instance", "save KiB", "resume KiB",
                    "save/memcpy", "resume/memcpy"], rows)
        self.p("The peer samples (6.1 mbochs, mtty) have no migration.")
        self.p()
        for name, st in [("save", save), ("resume", resume)]:
            r = ratio(st, mc)
            self.target("migration %s >= 0.5x memcpy" % name,
                        "mgpu/memcpy %s" % rfmt(r), r, 0.5)

    def engine(self):
        self.p("## 6. The mgpu compute engine: throughput (MB/s) and "
               "fairness")
        self.p()
        self.table(["metric", "what", "MB/s"],
                   [[m, what, cell(self.get("mgpu-engine", m))]
                    for m, what in ENGINE_METRICS])
        self.table(["engine / CPU", "ratio"], [
            ["FILL / memset", rfmt(ratio(self.get("mgpu-engine", "engine_fill"),
                                         self.get("mgpu-engine", "cpu_memset")))],
            ["COPY / memcpy", rfmt(ratio(self.get("mgpu-engine", "engine_copy"),
                                         self.get("mgpu-engine", "cpu_memcpy")))]])
        self.p("Shares of engine time (engine_time_ns) of saturated eighths "
               "on one GPU:")
        self.p()
        rows = []
        worst = None
        for mix in ENGINE_MIXES:
            ws = mix_weights(mix)
            for i, w in enumerate(ws):
                st = self.get("fair-" + mix, "share%d" % i)
                want = w / sum(ws)
                dev = "-"
                if st:
                    dev = "%+.2f %%" % ((st.median / want - 1) * 100)
                    off = max(abs(st.min / want - 1), abs(st.max / want - 1))
                    worst = max(worst or 0, off * 100)
                rows.append([mix, str(i), str(w), "%.4f" % want,
                             "-" if not st else "%.4f (%.4f-%.4f)"
                             % (st.median, st.min, st.max), dev])
        self.table(["weights", "instance", "weight", "expected share",
                    "measured share", "median off by"], rows)
        self.target("engine shares within 5 % of the weights",
                    "worst round %s" % ("-" if worst is None
                                        else "%.2f %%" % worst),
                    worst, 5, higher_is_better=False)

    def summary(self):
        self.p("## Targets")
        self.p()
        self.table(["target", "this run", "verdict"],
                   [list(t) for t in self.targets])

    def build(self):
        self.header()
        self.create_remove()
        self.region()
        self.mmap()
        self.memory()
        self.migration()
        self.engine()
        self.summary()
        return "\n".join(self.out)

    # --- data for gnuplot -------------------------------------------------

    def write_plot_data(self, out_dir):
        for d in PAIR_SCALING:
            rows = []
            for n in LEVELS:
                st = self.get(d, "pair_us@%d" % n)
                if st:
                    rows.append("%d %g %g %g" % (n, st.median, st.min, st.max))
            with open(os.path.join(out_dir, "scaling-%s.dat" % d), "w") as f:
                f.write("# live median_us min max\n" + "\n".join(rows) + "\n")

        def bars(name, entries):
            """label median min max side (1 ours, 2 peer, 3 reference)"""
            with open(os.path.join(out_dir, "bars-%s.dat" % name), "w") as f:
                f.write("# label median min max side\n")
                for label, st in entries:
                    if st:
                        side = SIDES.get(label.split()[0], 3)
                        f.write('"%s" %g %g %g %d\n'
                                % (label, st.median, st.min, st.max, side))

        bars("throughput", [(d, self.get(d, "pairs_per_s@1")) for d in
                            ["mgpu", "test_mdev", "null", "mbochs-large",
                             "mbochs-small", "mtty"]])
        bars("region", [
            ("mgpu pwrite", self.get("mgpu", "pwrite_MiBps")),
            ("mgpu pread", self.get("mgpu", "pread_MiBps")),
            ("mbochs pwrite", self.get("mbochs", "pwrite_MiBps")),
            ("mbochs pread", self.get("mbochs", "pread_MiBps")),
            ("memcpy", self.get("memcpy", "memcpy_MiBps"))])
        bars("mmap", [
            ("%s %s" % (d, m), self.get(d, k))
            for d in ["mgpu", "mbochs", "anon", "anon-4k"]
            for m, k in [("touch", "touch_MiBps"),
                         ("write", "mmap_write_MiBps")]])
        bars("memory", [
            ("mgpu (64)", self.get("mgpu", "mem_per_instance@64")),
            ("test_mdev (64)", self.get("test_mdev", "mem_per_instance@64")),
            ("test_mdev (1024)",
             self.get("test_mdev", "mem_per_instance@1024")),
            ("null (1024)", self.get("null", "mem_per_instance@1024")),
            ("mbochs-small (64)",
             self.get("mbochs-small", "mem_per_instance@64")),
            ("mbochs-small (1024)",
             self.get("mbochs-small", "mem_per_instance@1024")),
            ("mtty (24)", self.get("mtty", "mem_per_instance@24"))])
        bars("engine", [(m.replace("engine_", "engine ")
                         .replace("cpu_", "cpu "), self.get("mgpu-engine", m))
                        for m, _ in ENGINE_METRICS])
        with open(os.path.join(out_dir, "fairness.dat"), "w") as f:
            f.write("# label expected median min max\n")
            for mix in ENGINE_MIXES:
                ws = mix_weights(mix)
                for i, w in enumerate(ws):
                    st = self.get("fair-" + mix, "share%d" % i)
                    if st:
                        f.write('"%s: w%d" %g %g %g %g\n'
                                % (mix, w, w / sum(ws), st.median, st.min,
                                   st.max))
        bars("migration", [
            ("mgpu save", self.get("mgpu", "save_MiBps")),
            ("mgpu resume", self.get("mgpu", "resume_MiBps")),
            ("memcpy", self.get("memcpy", "memcpy_MiBps"))])


def read_info(vm_dir):
    info = collections.OrderedDict()
    path = os.path.join(vm_dir, "vm-info")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                k, _, v = line.strip().partition(" ")
                if k:
                    info[k] = v
    return info


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: report.py VM_RESULTS_DIR OUT_DIR")
    vm_dir, out_dir = sys.argv[1:]
    os.makedirs(out_dir, exist_ok=True)
    report = Report(load(vm_dir), read_info(vm_dir))
    text = report.build()
    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write(text + "\n")
    report.write_plot_data(out_dir)
    print(text)


if __name__ == "__main__":
    main()
