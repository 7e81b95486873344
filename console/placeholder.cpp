// SPDX-License-Identifier: Apache-2.0
// Keeps sluice_console_core a non-empty library until the console pages land.
namespace sluice { int consoleCorePlaceholder() { return 0; } }
