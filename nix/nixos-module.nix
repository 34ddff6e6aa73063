# NixOS module: services.octra-orchestrator.
# With `users` set, octrad runs as a systemd user service for those users (the
# usual way: one daemon per user, socket in their runtime folder); with `users`
# empty, as one system service with a state directory under /var/lib/octra.
{ config, lib, pkgs, ... }:

let
  cfg = config.services.octra-orchestrator;
  toml = pkgs.formats.toml { };
  configFile = toml.generate "octra-config.toml" cfg.settings;
  serviceConfig = {
    Type = "notify";
    ExecStart = "${cfg.package}/bin/octrad serve";
    Restart = "on-failure";
    RestartSec = 2;
  } // lib.optionalAttrs (cfg.environmentFile != null) { EnvironmentFile = cfg.environmentFile; };
  environment = cfg.environment // { OCTRA_CONFIG = "${configFile}"; };
in
{
  options.services.octra-orchestrator = {
    enable = lib.mkEnableOption "Octra, the multi-agent AI orchestrator daemon (octrad)";

    package = lib.mkOption {
      type = lib.types.package;
      default = pkgs.octra or (pkgs.callPackage ./package.nix { });
      description = "The Octra package (octrad, octractl, octra-tui).";
    };

    settings = lib.mkOption {
      type = toml.type;
      default = { };
      example = { default_provider = "anthropic"; settings = { max_parallel_llm_calls = 8; sandbox = "auto"; }; };
      description = "Contents of config.toml (rendered to TOML).";
    };

    environment = lib.mkOption {
      type = lib.types.attrsOf lib.types.str;
      default = { };
      description = "Extra environment of octrad (not for secrets: use environmentFile).";
    };

    environmentFile = lib.mkOption {
      type = lib.types.nullOr lib.types.path;
      default = null;
      example = "/run/secrets/octra.env";
      description = "A file of KEY=value lines with provider keys and GITHUB_TOKEN; kept out of the Nix store.";
    };

    users = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [ ];
      example = [ "alice" ];
      description = "Run octrad as a user service for these users; empty: one system service.";
    };
  };

  config = lib.mkIf cfg.enable {
    environment.systemPackages = [ cfg.package ];

    systemd.user.services.octrad = lib.mkIf (cfg.users != [ ]) {
      description = "Octra daemon";
      wantedBy = [ "default.target" ];
      unitConfig.ConditionUser = map (u: "|${u}") cfg.users;
      inherit environment serviceConfig;
    };

    systemd.services.octrad = lib.mkIf (cfg.users == [ ]) {
      description = "Octra daemon";
      wantedBy = [ "multi-user.target" ];
      after = [ "network-online.target" ];
      wants = [ "network-online.target" ];
      environment = environment // {
        OCTRA_DATA_DIR = "/var/lib/octra";
        OCTRA_LOG_DIR = "/var/log/octra";
        OCTRA_SOCKET = "/run/octra/octrad.sock";
        HOME = "/var/lib/octra";
      };
      serviceConfig = serviceConfig // {
        DynamicUser = true;
        StateDirectory = "octra";
        LogsDirectory = "octra";
        RuntimeDirectory = "octra";
        RuntimeDirectoryMode = "0700";
      };
    };
  };
}
