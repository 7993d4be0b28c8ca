import { defineConfig } from "vite";

// The built page is served by the app's FastAPI server from desktop/ui/dist and ships in the
// wheel and the PyInstaller bundle.
export default defineConfig({
  base: "/",
  build: {
    outDir: "../desktop/ui/dist",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    chunkSizeWarningLimit: 2000,
  },
});
