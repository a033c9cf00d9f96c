"""Running generated Verilog in Verilator through cocotb."""
