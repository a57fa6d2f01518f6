#!/bin/sh
# record.sh LIGHTGBM — records the LightGBM reference cases in this directory.
#
# LIGHTGBM is the path of an already-built LightGBM command-line program
# (v4.5.0, built from LightGBM's source; LightGBM is not packaged for Debian).
# The script writes the training and prediction inputs (python3, standard
# library only, fixed seeds), a config file per case, trains each case with
# `task=train` (one thread, deterministic) and asks the same program for its
# predictions on predict.csv with `task=predict`, both transformed
# (<case>.pred) and raw (<case>.raw, predict_raw_score=true).
#
# Every file LightGBM reads writes a missing value as `nan`: LightGBM's CSV
# reader takes an empty last field as 0, not as missing.
#
# Files: <case>.conf (training config), <case>.model.txt (the saved model),
# <case>.pred and <case>.raw (LightGBM's outputs, one row per line of
# predict.csv, tab-separated per class), train_<task>.csv, predict.csv.
# The committed files were recorded with LightGBM v4.5.0 (the v4.5.0 tag of
# github.com/microsoft/LightGBM, built with CMake 3.25 and GCC 12 on Debian
# bookworm, Eigen from libeigen3-dev).
set -eu
if [ $# -ne 1 ] || [ ! -x "$1" ]; then
	echo "usage: $0 path/to/lightgbm" >&2
	exit 2
fi
LGBM=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
cd "$(dirname "$0")"

python3 - <<'EOF'
import math, random

HEADER = "label,x_nan,x_clean,x_zero,cat_many,cat_few,x_int"
rnd = random.Random(20240611)
many = [rnd.gauss(0, 1.5) for _ in range(60)]  # effect of each cat_many category
few = [-1.0, 0.5, 2.0, -0.7]                   # effect of each cat_few category

def row(r):
    x_nan = math.nan if r.random() < 0.15 else r.uniform(-5, 5)
    x_clean = r.gauss(0, 1)
    x_zero = 0.0 if r.random() < 0.3 else (math.nan if r.random() < 0.05 else r.uniform(0, 10))
    cat_many = math.nan if r.random() < 0.1 else r.randrange(60)
    cat_few = math.nan if r.random() < 0.08 else r.randrange(4)
    x_int = r.randrange(21)
    return [round(v, 3) for v in (x_nan, x_clean, x_zero, cat_many, cat_few, x_int)]

def score(x, r):
    x_nan, x_clean, x_zero, cat_many, cat_few, x_int = x
    s = 1.5 if math.isnan(x_nan) else 2 * math.sin(x_nan)
    s += x_clean
    s += -2.0 if x_zero == 0 else (1.0 if math.isnan(x_zero) else 0.3 * x_zero - 1.5)
    s += 0.8 if math.isnan(cat_many) else many[int(cat_many)]
    s += 0.0 if math.isnan(cat_few) else few[int(cat_few)]
    s += 0.05 * (x_int - 10)
    return s + r.gauss(0, 0.5)

def fmt(v):
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return repr(v)

def write(name, rows):
    with open(name, "w") as f:
        f.write(HEADER + "\n")
        for label, x in rows:
            f.write(",".join(fmt(v) for v in [label] + x) + "\n")

r = random.Random(7)
xs = [row(r) for _ in range(3000)]
scores = [score(x, r) for x in xs]
write("train_regression.csv", [(round(s, 3), x) for s, x in zip(scores, xs)])
write("train_binary.csv", [(1.0 if s > 0.3 else 0.0, x) for s, x in zip(scores, xs)])
write("train_multiclass.csv", [(0.0 if s < -0.5 else (1.0 if s < 1.5 else 2.0), x) for s, x in zip(scores, xs)])
write("train_poisson.csv", [(float(math.floor(math.exp(s / 3))), x) for s, x in zip(scores, xs)])

# predict.csv: fresh rows, then edge rows (every value missing, zeros, values
# near zero, infinities, categories that are negative, fractional, on
# bitset-word boundaries, unseen or beyond int32).
r = random.Random(11)
pred = [row(r) for _ in range(300)]
nan = math.nan
pred.append([nan] * 6)
pred.append([0.0] * 6)
for v in [1e-36, -1e-36, 1e-30, -1e-30, 0.0, nan, 0.25, 5.0]:
    pred.append([1.0, 0.5, v, 7.0, 1.0, 3.0])
for v in [math.inf, -math.inf, 1e300, -1e300]:
    pred.append([v, v, v, 3.0, 2.0, v])
for c in [-1.0, -0.5, 0.0, 0.7, 1.0, 1.9, 30.0, 31.0, 32.0, 33.0, 59.0, 60.0, 63.0, 64.0, 95.0, 1000.0, 1e10, -1e10, nan, math.inf]:
    pred.append([-1.0, 0.2, 4.0, c, c, 10.0])
    pred.append([2.0, -0.4, 0.0, c, 3.0, 5.0])
write("predict.csv", [(0.0, x) for x in pred])
EOF

# conf NAME TASKDATA LINES... writes NAME.conf: the common settings, then LINES.
conf() {
	name=$1 data=$2
	shift 2
	{
		echo "task=train"
		echo "data=train_$data.csv"
		echo "header=true"
		echo "label_column=0"
		echo "categorical_feature=name:cat_many,cat_few"
		echo "num_threads=1"
		echo "deterministic=true"
		echo "force_row_wise=true"
		echo "seed=1"
		echo "precise_float_parser=true"
		echo "num_iterations=40"
		echo "learning_rate=0.1"
		echo "num_leaves=15"
		echo "min_data_in_leaf=10"
		echo "min_data_per_group=10"
		echo "cat_smooth=1"
		echo "max_cat_threshold=32"
		echo "verbosity=-1"
		echo "output_model=$name.model.txt"
		for line in "$@"; do echo "$line"; done
	} >"$name.conf"
}

conf binary binary objective=binary
conf binary_zero binary objective=binary sigmoid=0.7 zero_as_missing=true
conf multiclass multiclass objective=multiclass num_class=3
conf multiclassova multiclass objective=multiclassova num_class=3 sigmoid=1.5
conf regression regression objective=regression
conf regression_sqrt regression objective=regression reg_sqrt=true
conf regression_l1_nomissing regression objective=regression_l1 use_missing=false
conf poisson poisson objective=poisson
conf rf binary boosting=rf objective=binary bagging_fraction=0.6 bagging_freq=1 feature_fraction=0.8
conf linear regression objective=regression linear_tree=true

for c in binary binary_zero multiclass multiclassova regression regression_sqrt regression_l1_nomissing poisson rf linear; do
	"$LGBM" "config=$c.conf" >/dev/null
	for mode in pred raw; do
		raw=false
		[ "$mode" = raw ] && raw=true
		"$LGBM" task=predict data=predict.csv header=true precise_float_parser=true num_threads=1 \
			"input_model=$c.model.txt" "output_result=$c.$mode" "predict_raw_score=$raw" verbosity=-1 >/dev/null
	done
done
