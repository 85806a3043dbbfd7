// Types of vocabulary.js for the TypeScript that imports it (test/workers/); not served.
export const FITS: string[];
export const METADATA_MODES: string[];
export const MAX_METADATA_FILTERS: number;
export const METADATA_FILTER_OPERATORS: [operator: string, label: string][];
