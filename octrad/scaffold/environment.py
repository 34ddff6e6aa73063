"""The environment of every child process Octra starts (toolchains, git, nix).

Built from an allow-list of harmless variables, never the daemon's environment
wholesale: provider keys and tokens live in the daemon's environment and must
not reach a command a worker asked for.  Any value that contains a secret
registered with :mod:`octrad.redact` is dropped as well, even if allowed.
"""

from __future__ import annotations

import os
from typing import Mapping

from ..redact import redact

#: variables a child may inherit from the daemon
ALLOWED = frozenset(
    {
        "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TERM", "TZ", "TMPDIR",
        "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "LC_COLLATE", "LC_NUMERIC", "LC_TIME",
        "SSL_CERT_FILE", "SSL_CERT_DIR", "NIX_SSL_CERT_FILE", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE",
        "NIX_PATH", "NIX_CONFIG", "NIX_REMOTE", "NIX_STORE_DIR", "NIX_STATE_DIR", "NIX_LOG_DIR",
        "NIX_CONF_DIR", "NIX_USER_CONF_FILES", "NIX_DAEMON_SOCKET_PATH",
        "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME",
        "CARGO_HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN", "GOPATH", "GOROOT", "GOCACHE", "GOMODCACHE", "GOFLAGS",
        "GOPROXY", "JAVA_HOME", "GRADLE_USER_HOME", "MAVEN_OPTS", "DOTNET_ROOT", "ANDROID_HOME", "FLUTTER_ROOT",
        "PUB_CACHE", "PYENV_ROOT", "PYENV_VERSION", "VIRTUAL_ENV", "NVM_DIR", "NODE_PATH", "GEM_HOME", "GEM_PATH",
        "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
        "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL",
    }
)

#: always set for children: nothing may stop to ask a question nobody will answer
FIXED = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "/bin/false", "SSH_ASKPASS": "/bin/false", "DEBIAN_FRONTEND": "noninteractive"}


def holds_secret(value: str) -> bool:
    return redact(value) != value


def child_env(extra: Mapping[str, str] | None = None, *, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The allowed part of ``base`` (default: this process's environment), plus
    ``extra``; any value holding a registered secret is left out."""
    source = os.environ if base is None else base
    env = {k: v for k, v in source.items() if k in ALLOWED}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.update(FIXED)
    if extra:
        env.update({str(k): str(v) for k, v in extra.items()})
    return {k: v for k, v in env.items() if not holds_secret(v) and not holds_secret(k)}


#: the fixed configuration of every git Octra runs itself.  Git reads config only
#: from the system and global files (off: ``git_env``), the repository's own file
#: (in Octra's data folder, written only by Octra) and these options, so no file
#: in a project can define a hook, fsmonitor, filter, diff/textconv or merge
#: driver: a ``.gitattributes`` in the tree can only name drivers that do not exist.
GIT_CONFIG = {
    "core.hooksPath": "/dev/null",
    "core.fsmonitor": "false",
    "core.attributesFile": "/dev/null",
    "core.excludesFile": "/dev/null",
    "core.untrackedCache": "false",
    "init.templateDir": "",
    "submodule.recurse": "false",
    "protocol.allow": "never",
    "protocol.http.allow": "always",
    "protocol.https.allow": "always",
}
GIT_SAFE = [arg for k, v in GIT_CONFIG.items() for arg in ("-c", f"{k}={v}")]
#: no system or user config file, no config passed through the environment
GIT_ISOLATED = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_SYSTEM": "/dev/null", "GIT_CONFIG_GLOBAL": "/dev/null",
                "GIT_CONFIG_PARAMETERS": "", "GIT_CONFIG_COUNT": "0"}


def git_env(git_dir: str | os.PathLike | None = None, work_tree: str | os.PathLike | None = None,
            extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a git Octra runs: the children's allow-list, no config
    but Octra's, and (when given) the git directory and work tree it works on,
    so git never looks for a ``.git`` in the tree."""
    env = dict(GIT_ISOLATED)
    if git_dir is not None:
        env["GIT_DIR"] = os.fspath(git_dir)
    if work_tree is not None:
        env["GIT_WORK_TREE"] = os.fspath(work_tree)
    env.update(extra or {})
    return child_env(env)


def scrub_git(repo, work_tree: str | os.PathLike | None = None):
    """Make a gitpython Repo's git runs safe: no secrets in git's environment
    (gitpython starts git with the daemon's environment plus overrides, so every
    variable outside the allow-list is blanked), no config but Octra's, and
    git pointed at the repository's own git directory and work tree."""
    env = {k: "" for k in os.environ if k not in ALLOWED and not k.startswith("GIT_")}
    env.update(FIXED)
    env.update(GIT_ISOLATED)
    env["GIT_DIR"] = os.fspath(repo.git_dir)
    if work_tree is not None:
        env["GIT_WORK_TREE"] = os.fspath(work_tree)
    repo.git.update_environment(**env)
    repo.git.set_persistent_git_options(c=[f"{k}={v}" for k, v in GIT_CONFIG.items()])
    return repo
