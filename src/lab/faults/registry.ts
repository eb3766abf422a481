/** The lab's fault links by name: what the control API and the nemeses act on. */
import { FaultLink, type FaultLinkOptions, type LinkStatus } from "./link.ts";

/** Link names: also path segments of the control API (URL-encode the `/`). */
const LINK_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:/>-]{0,127}$/;

export class LinkRegistry {
  private readonly links = new Map<string, FaultLink>();

  /** Starts a link and registers it. */
  async start(options: FaultLinkOptions): Promise<FaultLink> {
    this.checkName(options.name);
    const link = await FaultLink.start(options);
    if (this.links.has(options.name)) {
      await link.close();
      throw new Error(`fault link "${options.name}" already exists`);
    }
    this.links.set(link.name, link);
    return link;
  }

  /** Registers a link started elsewhere. */
  add(link: FaultLink): FaultLink {
    this.checkName(link.name);
    this.links.set(link.name, link);
    return link;
  }

  get(name: string): FaultLink | undefined {
    return this.links.get(name);
  }

  list(): FaultLink[] {
    return [...this.links.values()];
  }

  status(): LinkStatus[] {
    return this.list().map((link) => link.status());
  }

  /** Heals every link. */
  async healAll(): Promise<void> {
    await Promise.all(this.list().map((link) => link.heal()));
  }

  /** Closes and forgets one link; false when there is none by that name. */
  async remove(name: string): Promise<boolean> {
    const link = this.links.get(name);
    if (!link) return false;
    this.links.delete(name);
    await link.close();
    return true;
  }

  /** Closes every link. */
  async closeAll(): Promise<void> {
    const links = this.list();
    this.links.clear();
    await Promise.all(links.map((link) => link.close()));
  }

  private checkName(name: string): void {
    if (!LINK_NAME.test(name)) {
      throw new TypeError(`name: "${name}" is not a link name (1-128 characters of [A-Za-z0-9_.:/>-])`);
    }
    if (this.links.has(name)) throw new Error(`fault link "${name}" already exists`);
  }
}
