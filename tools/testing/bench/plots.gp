# SPDX-License-Identifier: GPL-2.0-only
#
# plots.gp: the PNG plots of "make bench", from the data files report.py
# writes.  Every point or bar is the median over the rounds, the error bars
# span min to max.
#
#   gnuplot -e "dir='build/bench/results'" tools/testing/bench/plots.gp

if (!exists("dir")) dir = "."

set terminal pngcairo size 960,560 font "sans,10" noenhanced
set grid ytics
set key top right
set style fill solid 0.6 border -1
set boxwidth 0.6
# Bar colours by the side column of the data: ours, peer, reference.
set linetype 11 lc rgb "#3b7dd8"
set linetype 12 lc rgb "#e08a2c"
set linetype 13 lc rgb "#9a9a9a"

# A bar chart of bars-NAME.dat: label, median, min, max, side.
bars(name) = dir . "/bars-" . name . ".dat"
sides = "blue: ours, orange: upstream peer, grey: reference"

# --- create + remove, cost per pair as live instances grow -----------------
set output dir . "/create_remove_scaling.png"
set title "create + remove through sysfs: cost per pair vs live instances (TCG)"
set xlabel "live instances"
set ylabel "microseconds per create+remove pair"
set logscale x 2
set yrange [0:*]
set xrange [0.7:6000]
plot for [d in "null test_mdev mgpu mbochs-small mtty"] \
	dir . "/scaling-" . d . ".dat" using 1:2:3:4 with yerrorlines \
	lw 2 pointsize 1.2 title d
unset logscale x
unset xrange
unset xlabel

# --- bar charts ---------------------------------------------------------------
set xtics rotate by -25 nomirror
set key off
set label 1 sides at graph 0.99, graph 0.97 right
set output dir . "/create_remove_throughput.png"
set title "create + remove pairs per second, 1 live instance (TCG)"
set ylabel "pairs/s"
plot bars("throughput") using 0:2:($5 + 10) with boxes lc variable, \
	'' using 0:2:3:4 with yerrorbars lc rgb "black" pt 0, \
	'' using 0:(0):xtic(1) with points pt -1

set output dir . "/region_bandwidth.png"
set title "pread / pwrite of BAR0 in 1 MiB chunks vs memcpy (TCG, log scale)"
set ylabel "MiB/s"
set logscale y
set yrange [1:*]
plot bars("region") using 0:2:($5 + 10) with boxes lc variable, \
	'' using 0:2:3:4 with yerrorbars lc rgb "black" pt 0, \
	'' using 0:(1):xtic(1) with points pt -1
unset logscale y
set yrange [0:*]

set output dir . "/mmap.png"
set title "mmap of a 64 MiB BAR0: first touch and write bandwidth vs anonymous memory (TCG)"
set ylabel "MiB/s"
plot bars("mmap") using 0:2:($5 + 10) with boxes lc variable, \
	'' using 0:2:3:4 with yerrorbars lc rgb "black" pt 0, \
	'' using 0:(0):xtic(1) with points pt -1

set output dir . "/memory.png"
set title "kernel memory (Slab + VmallocUsed) per idle instance"
set ylabel "bytes per instance"
set yrange [*:*]
plot bars("memory") using 0:2:($5 + 10) with boxes lc variable, \
	'' using 0:2:3:4 with yerrorbars lc rgb "black" pt 0, \
	'' using 0:(0):xtic(1) with points pt -1, \
	16384 with lines dt 2 lc rgb "red"

# Migration: only when mgpu has it (the file then has data rows).
stats bars("migration") using 2 nooutput
if (STATS_records > 1) {
	set output dir . "/migration.png"
	set title "migration of 64 MiB of touched VRAM vs memcpy (TCG)"
	set ylabel "MiB/s of VRAM"
	set yrange [0:*]
	plot bars("migration") using 0:2:($5 + 10) with boxes lc variable, \
		'' using 0:2:3:4 with yerrorbars lc rgb "black" pt 0, \
		'' using 0:(0):xtic(1) with points pt -1
}

# --- the mgpu compute engine ---------------------------------------------------
set output dir . "/engine_throughput.png"
set title "mgpu compute engine vs the CPU in the same process, 8 MiB (TCG)"
set ylabel "MB/s"
set yrange [0:*]
plot bars("engine") using 0:2:($5 + 10) with boxes lc variable, \
	'' using 0:2:3:4 with yerrorbars lc rgb "black" pt 0, \
	'' using 0:(0):xtic(1) with points pt -1

set output dir . "/engine_fairness.png"
set title "engine time shares of saturated instances vs their weights (1:1, 1:2:4, 1:8)"
set ylabel "share of engine time"
set yrange [0:1]
unset label 1
set key top left
plot dir . "/fairness.dat" using 0:3 with boxes lc rgb "#3b7dd8" title "measured (median)", \
	'' using 0:3:4:5 with yerrorbars lc rgb "black" pt 0 notitle, \
	'' using 0:2 with points pt 7 ps 1.5 lc rgb "red" title "weight / sum of weights", \
	'' using 0:(0):xtic(1) with points pt -1 notitle
