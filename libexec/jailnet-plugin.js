#!/usr/bin/env node
// A CNI plugin in a Node process of its own: what a shim in cni/ runs when jailnetd does
// not serve its call. The plugin is named by the first argument (the shim's file name).
import { runNamedPlugin } from '../dist/plugins/main.js';

await runNamedPlugin(process.argv[2] ?? '');
