// Public API of @sextant/otlp. Nothing is exported yet.
export {};
