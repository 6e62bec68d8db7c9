"""Lines that buy each behaviour (reports/lines.py): what counts as a code line, and the imports followed."""

from bench import reference_servers
from reports import lines, readme


def test_only_code_lines_count(tmp_path):
    source = tmp_path / "sample.py"
    source.write_text('"""A docstring\n\nof three lines."""\n\n# a comment\nimport os  # trailing\n\n\n'
                      'def f(x):\n    """Its docstring."""\n    return (x +\n            1)\n')
    assert lines.code_lines(source) == 4  # import, def, and the two lines of the return


def test_every_layer_has_a_row_and_uses_the_shared_parts_it_imports():
    rows = {row["layer"]: row for row in lines.rows()}
    assert list(rows) == list(lines.MODELS)
    for layer, row in rows.items():
        assert row["own"] > 0 and row["shared"] == sum(row[package] for package in lines.SHARED)
        assert row["serving"] > 0 and row["webapp"] > 0  # every layer runs through serving.runner and the app
        used = {path.relative_to(lines.ROOT).as_posix()
                for path in lines.shared_files(sorted((lines.ROOT / layer).glob("*.py")))}
        assert "serving/runner.py" in used and "webapp/app.py" in used


def test_the_readme_lines_block_is_the_code_as_it_stands():
    shown = readme.block(readme.README.read_text(encoding="utf-8"), readme.LINES_BEGIN, readme.LINES_END)
    assert shown == readme.render_lines()


def test_a_framework_counts_what_its_server_runs_and_what_it_imports_of_the_package():
    rows = {row.name: row for row in lines.framework_rows()}
    assert list(rows) == [target.name for target in reference_servers.frameworks()] == ["flask", "fastapi"]
    framework = lines.ROOT / "frameworks"
    assert rows["flask"].modules == (framework / "flask_app.py", framework / "gunicorn_conf.py")
    assert rows["fastapi"].modules == (framework / "fastapi_app.py",)
    init = lines.code_lines(framework / "__init__.py")
    page, store = lines.ROOT / "webapp" / "page.py", lines.ROOT / "webapp" / "store.py"
    for row in rows.values():
        assert row.modules_lines == sum(lines.code_lines(path) for path in row.modules)
        assert 0 < row.init_part < row.init_total == init  # what it imports, never the exceptions' data
        assert row.own == row.modules_lines + row.init_part
        assert row.shared_files == (page, store)  # webapp's page and store, nothing else of webapp
        assert row.shared == {"serving": 0, "http11": 0, "webapp": lines.code_lines(page) + lines.code_lines(store)}


def test_the_table_shows_each_framework_beside_the_layers():
    headers, body = lines.table()
    assert headers[:6] == ["layer or framework", "its own code", "shared code it uses",
                           *(f"of which {package}/" for package in lines.SHARED)]
    layers = [row for row in body if row[0].endswith("/")]
    assert [row[:6] for row in layers] == [[f"{r['layer']}/", str(r["own"]), str(r["shared"]),
                                            *(str(r[p]) for p in lines.SHARED)] for r in lines.rows()]
    apps = {row[0]: row for row in body if not row[0].endswith("/")}
    for found in lines.framework_rows():
        row = apps[found.name]
        assert row[1:6] == [str(found.own), str(sum(found.shared.values())), "0", "0", str(found.shared["webapp"])]
        assert all(path.name in row[6] for path in found.modules) and "webapp/page.py + webapp/store.py" in row[6]
        assert f"{found.init_part} of __init__.py's {found.init_total} lines" in row[6]


def test_only_the_statements_a_module_imports_count(tmp_path):
    source = ('"""The package."""\n\nimport os\nfrom json import dumps\n\nLIMIT = 5\nUNUSED = 7  # data\n\n\n'
              '@staticmethod\ndef check(x):\n    """Doc."""\n    return x < LIMIT and os.sep\n\n\n'
              'def other():\n    return dumps(UNUSED)\n')
    tree = lines.ast.parse(source)
    chosen = lines.needed(tree, {"check"})
    assert [statement.lineno for statement in chosen] == [3, 6, 11]  # os, LIMIT and check: not json, UNUSED, other
    numbers = {line for statement in chosen for line in lines.statement_lines(statement)}
    assert sorted(lines.code_line_numbers(source) & numbers) == [3, 6, 10, 11, 13]  # the decorator too, no docstring
