import subprocess

from pouch.rich.profile import profile_env


def test_values_survive_a_shell():
    env = ["PATH=/usr/bin:/bin", "TRICKY=a 'b' \"c\" $d=e `f`", "EMPTY=", "HOSTNAME=x", "BAD-NAME=1", "NOVALUE"]
    script = profile_env(env)
    assert "HOSTNAME" not in script and "BAD-NAME" not in script and "NOVALUE" not in script
    out = subprocess.run(["/bin/sh", "-c", script + 'printf "%s|%s|" "$TRICKY" "$EMPTY"'], capture_output=True,
                         text=True, env={}).stdout
    assert out == "a 'b' \"c\" $d=e `f`||"
