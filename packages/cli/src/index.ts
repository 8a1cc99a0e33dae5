// Public API of @sextant/cli. Nothing is exported yet.
export {};
