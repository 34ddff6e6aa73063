# Octra as a Python application: the commands octrad, octractl and octra-tui.
{ lib, python3Packages, git, bubblewrap }:

python3Packages.buildPythonApplication {
  pname = "octra";
  version = "0.1.0";
  pyproject = true;
  src = lib.cleanSource ./..;

  build-system = [ python3Packages.setuptools python3Packages.wheel ];
  dependencies = with python3Packages; [
    msgspec anyio httpx aiosqlite platformdirs click gitpython keyring anyascii textual
  ];

  # git and bubblewrap are used at run time by the daemon
  makeWrapperArgs = [ "--prefix" "PATH" ":" (lib.makeBinPath [ git bubblewrap ]) ];

  doCheck = false; # the suite starts daemons and toolchains; run it with ./setup.sh test
  pythonImportsCheck = [ "octrad" "octra_protocol" "octractl" "octra_tui" ];

  meta = {
    description = "Multi-agent AI orchestrator that builds software projects";
    license = lib.licenses.mit;
    mainProgram = "octractl";
  };
}
