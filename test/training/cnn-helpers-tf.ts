/** tfjs's own Conv2D gradient config, loaded from its ESM build (the Node bundle registers none). */
export async function registerBuiltinConvGradient(): Promise<void> {
  const tf = await import('@tensorflow/tfjs-core');
  const mod = (await import('@tensorflow/tfjs-core/dist/gradients/Conv2D_grad.js')) as { conv2DGradConfig: { kernelName: string } };
  if (!tf.getGradient(mod.conv2DGradConfig.kernelName)) tf.registerGradient(mod.conv2DGradConfig as never);
}
