/**
 * The route id of a handler, as in Smartstore: `[{Module}/]{Controller}/{handler}`, with the
 * controller's class name less `Controller` (`Catalog/category`, `Blog/Blog/list`).
 */
export function routeIdOf(
  controller: { name: string },
  handlerName: string,
  module?: string,
): string {
  const name = controller.name.replace(/Controller$/, '') || controller.name;
  return module ? `${module}/${name}/${handlerName}` : `${name}/${handlerName}`;
}
