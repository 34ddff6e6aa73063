# Evaluate a module of ours with the stubs and given option values.
{ module, values }:
let
  stubs = import ./stubs.nix;
  m = import module;
  evaluated = m { config = values; inherit (stubs) lib pkgs; };
in
{ inherit (evaluated) config; options = evaluated.options; }
