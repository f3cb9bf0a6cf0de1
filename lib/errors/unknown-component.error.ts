/** A view placed a component name that no `@ViewComponent` provider carries. */
export class UnknownComponentError extends Error {
  constructor(name: string, known: string[]) {
    super(
      `Unknown view component "${name}". Known components: ${known.length ? known.join(', ') : '(none)'}. ` +
        `Declare it with @ViewComponent('${name}') on a provider of an imported module.`,
    );
    this.name = 'UnknownComponentError';
  }
}
