"""Go's text/template with docker's functions (pouch/cli/gotemplate.py), construct by construct;
the expected texts are what docker 28's CLI prints for the same template."""

from __future__ import annotations

import pytest

from pouch.cli.format import TemplateError, render_rows, tabwrite
from pouch.cli.gotemplate import Options, Record, execute

CTX = Record("*formatter.ContainerContext", {
    "ID": "b8cc9d009fd1", "Names": "web", "State": "running", "Labels": "a=b,c=d", "Size": "0B",
    "Label": lambda name: {"a": "b"}.get(name, ""),
})
DATA = {"Id": "abc", "State": {"Status": "running", "Pid": 42, "Running": True},
        "Config": {"Env": ["A=1", "B=2"], "Labels": {"x.y": "z"}, "Cmd": None}, "Empty": [], "N": 3}


@pytest.mark.parametrize("template, out", [
    ("plain text", "plain text"),
    ("{{.Id}}", "abc"),
    ("{{.State.Status}}/{{.State.Pid}}/{{.State.Running}}", "running/42/true"),
    ("{{.}}", "map[Config:map[Cmd:<nil> Env:[A=1 B=2] Labels:map[x.y:z]] Empty:[] Id:abc N:3 State:map[Pid:42 "
              "Running:true Status:running]]"),
    ("{{$.Id}} {{with .State}}{{$.Id}}-{{.Pid}}{{end}}", "abc abc-42"),
    ("{{.Config.Labels.nope}}", "<no value>"),
    ('{{index .Config.Labels "x.y"}} {{index .Config.Env 1}}', "z B=2"),
    ("{{$x := .State.Pid}}{{$x}} {{$x = 7}}{{$x}}", "42 7"),
    # range
    ("{{range .Config.Env}}[{{.}}]{{end}}", "[A=1][B=2]"),
    ("{{range $i, $v := .Config.Env}}{{$i}}:{{$v}} {{end}}", "0:A=1 1:B=2 "),
    ("{{range $v := .Config.Env}}{{$v}}{{end}}", "A=1B=2"),
    ("{{range $k, $v := .State}}{{$k}}={{$v}};{{end}}", "Pid=42;Running=true;Status=running;"),
    ("{{range .Empty}}x{{else}}none{{end}}", "none"),
    ("{{range .Config.Env}}{{if eq . \"B=2\"}}{{break}}{{end}}{{.}}{{end}}", "A=1"),
    ("{{range .Config.Env}}{{if eq . \"A=1\"}}{{continue}}{{end}}{{.}}{{end}}", "B=2"),
    ("{{range .N}}{{.}}{{end}}", "012"),
    # if / with
    ("{{if .State.Running}}up{{else}}down{{end}}", "up"),
    ("{{if not .State.Running}}a{{else if eq .Id \"abc\"}}b{{else}}c{{end}}", "b"),
    ("{{if .Empty}}a{{else if .Config.Cmd}}b{{else}}c{{end}}", "c"),
    ("{{with .Config.Labels}}{{len .}}{{else}}none{{end}} {{with .Empty}}x{{else}}none{{end}}", "1 none"),
    # comparisons and logic
    ("{{eq .N 3}} {{ne .N 3}} {{lt 1 2}} {{le 2 2}} {{gt 1 2}} {{ge 2 3}} {{eq .Id \"x\" \"abc\"}}",
     "true false true true false false true"),
    ("{{and 1 0}} {{or 0 \"\" \"z\"}} {{not 0}} {{and .Id .N}}", "0 z true 3"),
    ("{{len .Config.Env}} {{len .Id}} {{len .State}}", "2 3 3"),
    # printing
    ('{{print 1 2 "a" 3}}|{{println "a" 1}}|', "1 2a3|a 1\n|"),
    ('{{printf "%-8s|%5.1f|%d|%v|%q|%x|%s" .Id 3.14159 42 true .Id 255 1}}',
     'abc     |  3.1|42|true|"abc"|ff|%!s(int=1)'),
    ("{{.Id | printf \"%s!\"}} {{.Config.Env | len | printf \"%03d\"}}", "abc! 002"),
    ("{{(index .Config.Env 0)}} {{(index .Config.Labels \"x.y\") | upper}}", "A=1 Z"),
    # literals and trims
    ("{{'a'}} {{0x10}} {{1.5}} {{1e3}} {{-2}} {{true}} {{`raw\\n`}} {{\"q\\t\"}}", "97 16 1.5 1000 -2 true raw\\n q\t"),
    ("a  {{- .Id -}}  b {{/* a comment */}}c", "aabcb c"),
    ("x {{- /* c */ -}} y", "xy"),
    # docker's functions
    ("{{json .Config}}", '{"Env":["A=1","B=2"],"Labels":{"x.y":"z"},"Cmd":null}'),
    ("{{json .Id}} {{json .N}}", '"abc" 3'),
    ('{{join .Config.Env ","}} {{split "a,b" ","}} {{index (split "a,b" ",") 1}}', "A=1,B=2 [a b] b"),
    ('{{upper .Id}} {{lower "ABC"}} {{title "hello woRld"}}', "ABC abc Hello WoRld"),
    ('{{truncate "abcdef" 3}} {{truncate "ab" 3}} [{{pad "ab" 1 2}}] [{{pad "" 1 2}}]', "abc ab [ ab  ] []"),
])
def test_constructs(template: str, out: str) -> None:
    assert execute(template, DATA) == out


@pytest.mark.parametrize("template, out", [
    ("{{.Names}} {{.Label \"a\"}}", "web b"),
    ("{{json .}}", '{"ID":"b8cc9d009fd1","Labels":"a=b,c=d","Names":"web","Size":"0B","State":"running"}'),
    ("{{range split .Labels \",\"}}<{{.}}>{{end}}", "<a=b><c=d>"),
])
def test_records(template: str, out: str) -> None:
    assert execute(template, CTX) == out


@pytest.mark.parametrize("template, data, message", [
    ("{{.Nope}}", CTX, 'template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope in type '
                       "*formatter.ContainerContext"),
    ("{{.Names}}\n {{.Names.X}}", CTX, "template: :2:9: executing \"\" at <.Names.X>: can't evaluate field X in type string"),
    ("{{index .Names 5}}", CTX, 'template: :1:2: executing "" at <index .Names 5>: error calling index: '
                                "index out of range: 5"),
    ('{{eq 1 "a"}}', CTX, 'template: :1:2: executing "" at <eq 1 "a">: error calling eq: incompatible types for '
                          "comparison"),
    ("{{upper 1}}", CTX, 'template: :1:8: executing "" at <1>: expected string; found 1'),
    ('{{join .Names ","}}', CTX, 'template: :1:7: executing "" at <.Names>: wrong type for value; expected []string; '
                                 "got string"),
    ("{{split .Names}}", CTX, 'template: :1:2: executing "" at <split>: wrong number of args for split: want 2 got 1'),
    ("{{printf}}", CTX, 'template: :1:2: executing "" at <printf>: wrong number of args for printf: want at least 1 '
                        "got 0"),
    ("{{.Label}}", CTX, 'template: :1:2: executing "" at <.Label>: wrong number of args for Label: want 1 got 0'),
    ("{{.Names 1}}", CTX, 'template: :1:2: executing "" at <.Names>: wrong number of args for Names: want 0 got 1'),
    ('{{index . "Names"}}', CTX, 'template: :1:2: executing "" at <index . "Names">: error calling index: '
                                 "can't index item of type formatter.ContainerContext"),
    ("{{.Nope", CTX, "template: :1: unclosed action"),
    ("{{nosuch}}", CTX, 'template: :1: function "nosuch" not defined'),
    ("{{$x}}", CTX, 'template: :1: undefined variable "$x"'),
    ("{{end}}", CTX, "template: :1: unexpected {{end}}"),
    ("{{if .Names}}", CTX, "template: :1: unexpected EOF"),
    ("{{}}", CTX, "template: :1: missing value for command"),
    ("{{.State.Nope}}", DATA, 'template: :1:8: executing "" at <.State.Nope>: map has no entry for key "Nope"'),
])
def test_errors_as_go(template: str, data: object, message: str) -> None:
    with pytest.raises(ValueError) as e:
        execute(template, data, opts=Options(strict=True))
    assert str(e.value) == message


def test_template_name_in_errors() -> None:
    with pytest.raises(ValueError, match=r'^template: version:1:2: executing "version" at <\.Nope>'):
        execute("{{.Nope}}", Record("system.versionInfo", {}), opts=Options(name="version"))


HEADERS = {"ID": "CONTAINER ID", "Names": "NAMES", "State": "STATE", "Label": lambda name: name}


def test_table_directive() -> None:
    rows = [CTX, Record("*formatter.ContainerContext", {**CTX, "ID": "0123456789ab", "Names": "a-longer-name"})]
    assert render_rows('table {{.ID}}\\t{{.Names}}\\t{{.Label "a"}}', rows, HEADERS) == (
        "CONTAINER ID   NAMES           a\n"
        "b8cc9d009fd1   web             b\n"
        "0123456789ab   a-longer-name   b\n")
    assert render_rows("table {{.ID}} {{.Names}}", rows[:1], HEADERS) == "CONTAINER ID NAMES\nb8cc9d009fd1 web\n"
    assert render_rows(r"table {{.Names}}\t{{upper .Names}}\t{{json .Names}}", [], HEADERS) == "NAMES     NAMES     NAMES\n"


def test_json_and_plain_formats() -> None:
    assert render_rows("json", [CTX], HEADERS) == (
        '{"ID":"b8cc9d009fd1","Labels":"a=b,c=d","Names":"web","Size":"0B","State":"running"}\n')
    assert render_rows(r"  {{.Names}}\t{{.State}}\n  ", [CTX], HEADERS) == "web\trunning\n\n"
    rec = Record("*formatter.imageContext", {"Digest": "<none>"})
    assert render_rows("json", [rec], {}) == '{"Digest":"\\u003cnone\\u003e"}\n'  # json.Marshal escapes HTML


def test_error_positions_count_in_the_given_format() -> None:
    with pytest.raises(TemplateError, match=r"^template: :1:36: executing"):
        render_rows(r'table {{.Names}}\t{{.Label "a"}}\t{{.Nope}}', [CTX], HEADERS)


def test_tabwriter_blocks() -> None:
    # Go's tabwriter: a column block is as wide as its widest cell + 3, at least 10; the text
    # after a line's last tab is not aligned; a line without the column ends the block
    assert tabwrite("a\tb\tc\nlonger-than-ten\tb\nx\n\ty") == (
        "a                 b         c\nlonger-than-ten   b\nx\n          y")
