/**
 * Every architecture the runtime can build: the MLP (built in), the CNN and the GPT.
 * Node's entries and the packager import this; browser apps import only what they load.
 *
 * @example
 * import 'sortednet/runtime/archs'; // GRAPHS.cnn and GRAPHS.gpt are registered
 */
import './arch-cnn.js';
import './arch-gpt.js';
