package io.horcrux.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;

/**
 * horcrux-bom lists every published module of the build, and nothing else, at the parent's
 * version; the parent's dependencyManagement lists the same artifacts. A module is published
 * unless its pom sets {@code maven.deploy.skip} (the benchmarks, the examples).
 */
class BomTest {
    private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();

    @Test
    void theBomListsEveryPublishedModuleAtTheParentsVersion() throws Exception {
        Document parent = read(ROOT.resolve("pom.xml"));
        Document bom = read(ROOT.resolve("horcrux-bom/pom.xml"));
        Set<String> published = new TreeSet<>();
        for (String module : texts(child(parent.getDocumentElement(), "modules"), "module")) {
            Document pom = read(ROOT.resolve(module).resolve("pom.xml"));
            Element project = pom.getDocumentElement();
            Element properties = child(project, "properties");
            boolean skipped = properties != null && "true".equals(text(properties, "maven.deploy.skip"));
            if (!skipped && !"pom".equals(text(project, "packaging"))) {
                published.add(text(project, "artifactId"));
            }
        }

        assertThat(published).contains("horcrux-core", "horcrux-testkit", "horcrux-store", "horcrux-postgres", "horcrux-qemu");
        assertThat(managed(bom)).containsExactlyInAnyOrderElementsOf(published);
        assertThat(managed(parent)).containsAll(published);
        assertThat(text(bom.getDocumentElement(), "version")).isEqualTo(text(parent.getDocumentElement(), "version"));
        assertThat(text(bom.getDocumentElement(), "groupId")).isEqualTo("io.horcrux");
    }

    /** The io.horcrux artifacts in a pom's dependencyManagement, each at ${project.version}. */
    private static List<String> managed(Document pom) {
        List<String> found = new ArrayList<>();
        Element dependencies = child(child(pom.getDocumentElement(), "dependencyManagement"), "dependencies");
        NodeList list = dependencies.getElementsByTagName("dependency");
        for (int i = 0; i < list.getLength(); i++) {
            Element dependency = (Element) list.item(i);
            if ("io.horcrux".equals(text(dependency, "groupId")) && text(dependency, "type") == null) {
                assertThat(text(dependency, "version")).isEqualTo("${project.version}");
                found.add(text(dependency, "artifactId"));
            }
        }
        return found;
    }

    private static Document read(Path pom) throws Exception {
        assertThat(pom).exists();
        DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
        factory.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
        return factory.newDocumentBuilder().parse(Files.newInputStream(pom));
    }

    private static Element child(Element parent, String name) {
        for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element e && e.getTagName().equals(name)) {
                return e;
            }
        }
        return null;
    }

    private static String text(Element parent, String name) {
        Element e = child(parent, name);
        return e == null ? null : e.getTextContent().trim();
    }

    private static List<String> texts(Element parent, String name) {
        List<String> found = new ArrayList<>();
        for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element e && e.getTagName().equals(name)) {
                found.add(e.getTextContent().trim());
            }
        }
        return found;
    }
}
