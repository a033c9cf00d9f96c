#!/usr/bin/env bash
# The main job on the default model: set up, generate the accelerator for the digits MLP, then run
# the whole test split through the generated Verilog (Verilator) and check it against the golden model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
hwgen=.venv/bin/hwgen
$hwgen build models/digits/digits.yaml --target sim -o build/digits
$hwgen sim models/digits/digits.yaml --input sim/digits/test_x.npy --labels sim/digits/test_y.npy \
  --output build/digits/predictions_sim.npy
$hwgen sim models/digits/digits.yaml --input sim/digits/test_x.npy --labels sim/digits/test_y.npy \
  --output build/digits/predictions_rtl.npy --rtl -o build/digits/rtlsim
echo "demo: RTL, report and predictions are in build/digits/"
