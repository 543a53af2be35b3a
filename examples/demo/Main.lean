import Demo

def main : IO Unit :=
  IO.println s!"triple 14 = {Demo.triple 14}"
