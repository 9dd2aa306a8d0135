/**
 * The system's Chromium executable: OCN_CHROMIUM, else chromium, chromium-browser or
 * google-chrome on PATH; throws an error that says how to install it.
 */
export declare function findChromium(env?: NodeJS.ProcessEnv): string
