import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The build lands inside the Python package, so `pip install` + `meterbill serve` serve it
// with no Node at run time. Content-hashed names and no source maps: the same sources give
// the same files byte for byte (CI rebuilds and compares with what is committed).
export default defineConfig({
  base: "/dashboard/",
  plugins: [react()],
  // `npm run dev`: the API (HTTP and graphql-transport-ws) of a local `meterbill serve`.
  server: { proxy: { "/graphql": { target: "http://127.0.0.1:8000", ws: true } } },
  build: {
    outDir: "../src/meterbill/static/dashboard",
    emptyOutDir: true,
    sourcemap: false,
    assetsDir: "assets",
    chunkSizeWarningLimit: 400,
  },
});
