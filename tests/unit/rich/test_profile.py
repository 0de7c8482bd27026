import subprocess

from pouch.rich.profile import BLOCK_BEGIN, BLOCK_END, PROFILE_PATH, environment_block, environment_file, profile_env


def test_values_survive_a_shell():
    env = ["PATH=/usr/bin:/bin", "TRICKY=a 'b' \"c\" $d=e `f`", "EMPTY=", "HOSTNAME=x", "BAD-NAME=1", "NOVALUE"]
    script = profile_env(env)
    assert "HOSTNAME" not in script and "BAD-NAME" not in script and "NOVALUE" not in script
    out = subprocess.run(["/bin/sh", "-c", script + 'printf "%s|%s|" "$TRICKY" "$EMPTY"'], capture_output=True,
                         text=True, env={}).stdout
    assert out == "a 'b' \"c\" $d=e `f`||"


def test_environment_file_keeps_the_images_lines_and_replaces_its_own_block():
    first = environment_file("LANG=C\n# image comment\n", ["A=1", "HOME=/root", "B=x y"])
    assert first == ("LANG=C\n# image comment\n" + BLOCK_BEGIN + "\nA=1\nB=x y\n" + BLOCK_END + "\n")
    again = environment_file(first, ["A=2"])
    assert again == "LANG=C\n# image comment\n" + BLOCK_BEGIN + "\nA=2\n" + BLOCK_END + "\n"
    assert environment_file(None, []) == BLOCK_BEGIN + "\n" + BLOCK_END + "\n"


def test_environment_block_writes_what_pam_env_reads_back():
    # pam_env (Linux-PAM 1.5, seen in debian bookworm): a leading quote is stripped with a
    # trailing one, '#' ends the value, a trailing backslash joins the next line
    block = environment_block(['Q="quoted"', "S='x", 'MID=a "b" c', "H=a#b", "BS=x\\", "NL=a\nb", "D=$HOME"])
    assert block[1:-1] == ['Q=""quoted""', "S=\"'x\"", 'MID=a "b" c',
                           f"# H: its value cannot be written for pam_env; see {PROFILE_PATH}",
                           f"# BS: its value cannot be written for pam_env; see {PROFILE_PATH}",
                           f"# NL: its value cannot be written for pam_env; see {PROFILE_PATH}", "D=$HOME"]
