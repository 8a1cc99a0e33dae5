// Public API of @sextant/pipeline. Nothing is exported yet.
export {};
