#!/usr/bin/env bash
# The main job on the default model: set up, generate the accelerator for the digits MLP and build
# it for the ECP5-85k FPGA (Yosys, nextpnr, ecppack: bitstream and report), then run the whole test
# split through the cycle-accurate simulator and through the generated Verilog (Verilator) and check
# both against the golden model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
hwgen=.venv/bin/hwgen
$hwgen build models/digits/digits.yaml --target fpga -o build/digits
$hwgen sim models/digits/digits.yaml --input sim/digits/test_x.npy --labels sim/digits/test_y.npy \
  --output build/digits/predictions_sim.npy
$hwgen sim models/digits/digits.yaml --input sim/digits/test_x.npy --labels sim/digits/test_y.npy \
  --output build/digits/predictions_rtl.npy --rtl -o build/digits/rtlsim
echo "demo: RTL, bitstream (fpga/ulx3s.bit), report.md / report.json and predictions are in build/digits/"
