{
  description = "Octra: a multi-agent AI orchestrator that builds software projects (daemon, TUI, CLI)";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-24.11";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAll = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in {
      packages = forAll (pkgs: {
        octra = pkgs.callPackage ./nix/package.nix { };
        default = self.packages.${pkgs.system}.octra;
      });

      devShells = forAll (pkgs: {
        default = pkgs.mkShell {
          packages = [
            (pkgs.python3.withPackages (ps: with ps; [
              msgspec anyio httpx aiosqlite platformdirs click gitpython keyring anyascii textual pytest
            ]))
            pkgs.git pkgs.bubblewrap pkgs.tmux
          ];
        };
      });

      overlays.default = final: prev: {
        octra = final.callPackage ./nix/package.nix { };
      };

      nixosModules.octra-orchestrator = import ./nix/nixos-module.nix;
      nixosModules.default = self.nixosModules.octra-orchestrator;

      homeModules.default = import ./nix/home-module.nix;
      # the older name home-manager users look for
      homeManagerModules = self.homeModules;
    };
}
