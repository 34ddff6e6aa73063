# The few lib/pkgs attributes Octra's modules use, stubbed, so the modules can
# be evaluated without a nixpkgs checkout (none can be fetched here).  Options
# evaluate to their declarations; mkIf to its value or an empty set.
rec {
  lib = {
    mkOption = attrs: attrs;
    mkEnableOption = name: { type = "bool"; default = false; description = "Whether to enable ${name}."; };
    mkIf = cond: value: if cond then value else { };
    optionalAttrs = cond: attrs: if cond then attrs else { };
    types = {
      package = "package";
      str = "str";
      path = "path";
      bool = "bool";
      attrsOf = t: "attrsOf ${t}";
      listOf = t: "listOf ${t}";
      nullOr = t: "nullOr ${t}";
    };
  };
  pkgs = {
    octra = "/nix/store/00000000000000000000000000000000-octra-0.1.0";
    formats.toml = { }: {
      type = "toml";
      generate = name: value: "/nix/store/11111111111111111111111111111111-${name}:${builtins.toJSON value}";
    };
  };
}
