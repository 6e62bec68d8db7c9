"""Lines that buy each behaviour (reports/lines.py): what counts as a code line, and the imports followed."""

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
