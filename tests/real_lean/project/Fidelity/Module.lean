module

public import Fidelity.Basic

/-! A module-system file: Lake elaborates it with its main module (`Fidelity.Module`). -/

public theorem double_two : double 2 = 4 := by decide
