// Public API of @sextant/node-collector. Nothing is exported yet.
export {};
