/** What a component's render gets besides its arguments. */
export interface ComponentContext {
  /** The current (Express) request. */
  req: any;
  /** The current (Express) response: a hole may set headers or cookies (e.g. a CSRF cookie). */
  res: any;
  /** Route id of the page the component is placed in. */
  routeId: string;
}

/**
 * The contract of a view component. Arguments come from the view and must be JSON-serialisable:
 * on a cache hit, a hole gets them back from JSON, the outer view model no longer exists.
 */
export interface ViewComponentRenderer<A = Record<string, unknown>> {
  render(args: A, context: ComponentContext): string | Promise<string>;
}
