"""Azure AI Search backend: the Index and IndexAdmin implementations over azure-search-documents."""
