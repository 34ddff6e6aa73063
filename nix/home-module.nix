# home-manager module: services.octra (a systemd user service for octrad).
{ config, lib, pkgs, ... }:

let
  cfg = config.services.octra;
  toml = pkgs.formats.toml { };
in
{
  options.services.octra = {
    enable = lib.mkEnableOption "Octra, the multi-agent AI orchestrator daemon (octrad)";

    package = lib.mkOption {
      type = lib.types.package;
      default = pkgs.octra or (pkgs.callPackage ./package.nix { });
      description = "The Octra package (octrad, octractl, octra-tui).";
    };

    settings = lib.mkOption {
      type = toml.type;
      default = { };
      example = { settings = { publish_repositories = false; max_parallel_llm_calls = 4; }; };
      description = "Contents of ~/.config/octra/config.toml (rendered to TOML).";
    };

    environmentFile = lib.mkOption {
      type = lib.types.nullOr lib.types.str;
      default = "%h/.config/octra/env";
      description = "KEY=value lines with provider keys and GITHUB_TOKEN (a missing file is fine).";
    };
  };

  config = lib.mkIf cfg.enable {
    home.packages = [ cfg.package ];

    xdg.configFile."octra/config.toml" = lib.mkIf (cfg.settings != { }) {
      source = toml.generate "octra-config.toml" cfg.settings;
    };

    systemd.user.services.octrad = {
      Unit = {
        Description = "Octra daemon (multi-agent AI orchestrator)";
      };
      Service = {
        Type = "notify";
        ExecStart = "${cfg.package}/bin/octrad serve";
        Restart = "on-failure";
        RestartSec = 2;
      } // lib.optionalAttrs (cfg.environmentFile != null) { EnvironmentFile = "-${cfg.environmentFile}"; };
      Install = {
        WantedBy = [ "default.target" ];
      };
    };
  };
}
