// Public API of @sextant/enrichment. Nothing is exported yet.
export {};
