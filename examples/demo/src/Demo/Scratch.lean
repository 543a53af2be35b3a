import Demo.Basic

/-! Nothing imports this file: Lake never builds it (an orphan). -/

#eval Demo.triple 14
