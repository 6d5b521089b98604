"""Protocol conformance of the Quarry kernel, checked by jupyter_kernel_test
against the Jupyter message schema (5.x)."""

import unittest

import jupyter_kernel_test


class QuarryKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = "quarry"
    language_name = "sql"
    file_extension = ".sql"

    # Not applicable to a SQL kernel, so left unset (reported as skipped):
    # code_page_something (no pager payloads) and code_clear_output.
    code_hello_world = "%echo hello, world"
    code_stderr = "%config max_rows 50000"
    code_generate_error = "SELECT * FROM no_such_table"
    code_execute_result = [
        {"code": "SELECT 1 + 1 AS two", "mime": "application/vnd.dataresource+json"},
        {"code": "SELECT 'quarry' AS name", "mime": "text/html"},
        {"code": "SELECT 42 AS answer"},
    ]
    code_display_data = [
        {"code": "%lsmagic", "mime": "text/markdown"},
        {"code": "%help", "mime": "text/plain"},
    ]
    code_history_pattern = "SELECT 4?*"
    supported_history_operations = ("tail", "range", "search")

    completion_samples = [
        {"text": "SELEC", "matches": {"SELECT"}},
        {"text": "%lsma", "matches": {"%lsmagic"}},
        {"text": "SELECT approx_percentile_cont_w", "matches": {"approx_percentile_cont_with_weight"}},
    ]
    complete_code_samples = ["SELECT 1;", "SELECT 'a;b';", "%lsmagic", ""]
    incomplete_code_samples = ["SELECT 1", "SELECT 'unterminated", "SELECT (1 + 2"]
    invalid_code_samples = ["SELECT 1);"]

    code_inspect_sample = "abs"


class QuarryIopubWelcomeTests(jupyter_kernel_test.IopubWelcomeTests):
    kernel_name = "quarry"
    support_iopub_welcome = True


if __name__ == "__main__":
    unittest.main()
