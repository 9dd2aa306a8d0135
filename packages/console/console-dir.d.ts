/** The folder of the built console (index.html and assets/), for the node to serve. */
export declare const consoleDir: string
