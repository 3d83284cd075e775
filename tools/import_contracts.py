"""An import-linter contract: a package may import only the standard library and a named few.

import-linter's own `forbidden` contract needs every banned package listed, so a new
dependency would slip through; this contract lists what is allowed instead.
"""

import sys

from grimp import ImportGraph
from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck
from importlinter.domain.imports import Module


class StandardLibraryOnlyContract(Contract):
    """`source_modules` import nothing but the standard library and `allowed_modules`.

    Needs ``include_external_packages = true``, so third-party imports are in the graph.
    """

    type_name = "standard_library_only"

    source_modules = fields.ListField(subfield=fields.ModuleField())
    allowed_modules = fields.ListField(subfield=fields.StringField(), required=False)

    def check(
        self,
        graph: ImportGraph,
        verbose: bool,  # noqa: ARG002, FBT001 - import-linter's signature for Contract.check
    ) -> ContractCheck:
        """Collect every import of a package outside the allowed set."""
        # import-linter sets each field's parsed value on the instance, over the class's field
        # object, and its types do not say so: read the values from the instance.
        options = vars(self)
        allowed = {str(name) for name in options["allowed_modules"] or []}
        sources: list[Module] = options["source_modules"]
        violations: list[tuple[str, str, int, str]] = []
        for source in sources:
            modules = {source.name, *graph.find_descendants(source.name)}
            for importer in sorted(modules):
                for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                    top_level = imported.split(".")[0]
                    if top_level in sys.stdlib_module_names or top_level in allowed:
                        continue
                    details = graph.get_import_details(importer=importer, imported=imported)
                    violations.extend(
                        (importer, imported, detail["line_number"], detail["line_contents"])
                        for detail in details
                    )
                    if not details:
                        violations.append((importer, imported, 0, ""))
        return ContractCheck(kept=not violations, metadata={"violations": violations})

    def render_broken_contract(self, check: ContractCheck) -> None:
        """List each forbidden import with its line."""
        for importer, imported, line_number, line in check.metadata["violations"]:
            output.print_error(f"{importer} imports {imported} (l.{line_number}: {line})")
            output.new_line()
