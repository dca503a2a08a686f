// Types of packed-consumer.mjs, for the tests that import it.
export declare const root: string;
export declare function rootManifest(): Promise<{
  workspaces: string[];
  devDependencies: Record<string, string>;
}>;
export declare function packWorkspaces(dir: string): Promise<{
  /** Package name -> `file:./<tarball>`. */
  dependencies: Record<string, string>;
  manifests: { name: string; version: string; exports?: Record<string, unknown> }[];
}>;
export declare function packFolder(folder: string, dir: string): Promise<string>;
export declare function installConsumer(
  dir: string,
  consumer: Record<string, unknown>,
  packed: Record<string, string>,
): Promise<void>;
