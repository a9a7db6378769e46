"""Patient registry, payers and coverage, documents, duplicates and merge, spreadsheet import."""
