// The variant options the API accepts, for the console's forms. They are workers/shared/transform.ts's FITS and
// METADATA_MODES (a browser cannot import that TypeScript without a build step);
// test/workers/console-modules.test.ts fails when the two lists differ.
export const FITS = ["scale-down", "contain", "cover", "crop", "pad"];
export const METADATA_MODES = ["keep", "copyright", "none"];
