import pytest

from pouch.build.ignore import is_excluded, parse_dockerignore

PATTERNS = parse_dockerignore("""
# comment
*.log
/secret
build/
**/*.tmp
docs/*.md
!docs/keep.md
node_modules
""")


@pytest.mark.parametrize("path,excluded", [
    ("app.log", True), ("sub/app.log", False), ("secret", True), ("secret/x", True), ("build/out", True),
    ("a/b/c.tmp", True), ("c.tmp", True), ("docs/x.md", True), ("docs/keep.md", False), ("docs/sub/x.md", False),
    ("node_modules/pkg/index.js", True), ("src/main.py", False), ("Dockerfile", False),
])
def test_matching(path, excluded):
    assert is_excluded(path, PATTERNS) is excluded


def test_exception_order_last_wins():
    patterns = parse_dockerignore("!a.txt\n*.txt\n")
    assert is_excluded("a.txt", patterns)
    assert not is_excluded("a.txt", parse_dockerignore("*.txt\n!a.txt\n"))


def test_character_classes_and_question_mark():
    patterns = parse_dockerignore("file[0-9].txt\n?.md\n")
    assert is_excluded("file3.txt", patterns) and not is_excluded("filex.txt", patterns)
    assert is_excluded("a.md", patterns) and not is_excluded("ab.md", patterns)
